"""The HTTP foundation every QuantGrid service and the gateway share.

Private: the public names are re-exported by ``quantgrid.services``.
"""
