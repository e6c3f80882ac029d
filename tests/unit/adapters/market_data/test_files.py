"""CsvSource and ParquetSource over files that load_bars reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantgrid.adapters.market_data import (
    CsvSource,
    MalformedPayloadError,
    ParquetSource,
    Timeframe,
    UnknownSymbolError,
)
from quantgrid.data import SyntheticConfig, generate_market, save_market, write_bars
from tests.conftest import make_bars, random_walk

pytestmark = pytest.mark.anyio

START = 1_704_067_200_000_000_000
MINUTE = 60_000_000_000


@pytest.fixture(scope="module")
def market_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("market")
    market = generate_market(SyntheticConfig(instruments=("AAA", "BBB"), bars=300), seed=1)
    save_market(market, directory, "csv")
    save_market(market, directory, "parquet")
    return directory


@pytest.mark.parametrize("kind", [CsvSource, ParquetSource])
async def test_files_are_symbols_and_serve_their_bars(
    market_dir: Path, kind: type[CsvSource]
) -> None:
    source = kind(market_dir)
    bars = generate_market(SyntheticConfig(instruments=("AAA", "BBB"), bars=300), seed=1).bars

    assert await source.symbols() == ["AAA", "BBB"]  # regimes.csv is not a symbol
    price = await source.latest_price("BBB")
    assert (price.price, price.ts_event) == (bars["BBB"].close[-1], bars["BBB"].ts[-1])
    window = await source.ohlcv("AAA", START, START + 60 * MINUTE, Timeframe.H1)
    assert window.ts.tolist() == [START + 60 * MINUTE]
    assert window.high[0] == bars["AAA"].high[:60].max()
    assert (await source.ticker("AAA")).bid is None
    await source.close()


async def test_symbols_can_be_chosen(market_dir: Path) -> None:
    source = CsvSource(market_dir, symbols=["BBB", "ZZZ"], name="research")

    assert await source.symbols() == ["BBB"]
    with pytest.raises(UnknownSymbolError, match="research has no symbol 'AAA'"):
        await source.latest_price("AAA")


async def test_a_broken_file_names_the_file_row_and_rule(tmp_path: Path) -> None:
    good = make_bars(random_walk(5, seed=2), "OK", start_ns=START, step_ns=MINUTE)
    write_bars(good, tmp_path / "OK.csv")
    lines = (tmp_path / "OK.csv").read_text().splitlines()
    time, *_ = lines[3].split(",")
    lines[3] = f"{time},100,90,110,100,5"  # high below low
    (tmp_path / "BAD.csv").write_text("\n".join(lines) + "\n")
    source = CsvSource(tmp_path)

    with pytest.raises(MalformedPayloadError) as caught:
        await source.latest_price("BAD")

    error = caught.value
    assert (error.endpoint, error.field, error.rule) == ("BAD.csv", "row 3", "high_below_low")
    assert str(tmp_path) not in str(error)  # the file's name, not where it lives
    assert (await source.latest_price("OK")).price == good.close[-1]


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a directory"):
        CsvSource(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="not symbols"):
        CsvSource(tmp_path, symbols=["a b"])
