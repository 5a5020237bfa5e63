"""Numbers the command line refuses while parsing (exit status 2), before any job starts: a value the job's state
files cannot store, or a wait the socket layer or ``time.sleep`` cannot take."""

from __future__ import annotations

import pytest

from dashscope_embed.cli_parser import build_parser


@pytest.mark.parametrize("option, value", [
    ("--timeout", "inf"),  # escaped the first request as OverflowError
    ("--timeout", "1e300"),
    ("--timeout", "nan"),
    ("--poll-interval", "inf"),  # a traceback: OverflowError from time.sleep
    ("--poll-interval", "nan"),  # "Invalid value NaN (not a number)" from time.sleep
    ("--chunk-size", "99999999999999999999999"),  # a traceback: orjson's TypeError writing the manifest
    ("--rows-per-line", "99999999999999999999"),  # a traceback: orjson's TypeError writing the state
    ("--requests-per-minute", "nan"),  # accepted before, and paced nothing
])
def test_the_parser_refuses_numbers_a_job_cannot_use(option, value, capsys):
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["embed", "in.jsonl", "-o", "out.parquet", option, value])
    assert caught.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


@pytest.mark.parametrize("option, value, parsed", [
    ("--timeout", "0.5", 0.5), ("--poll-interval", "600", 600.0), ("--chunk-size", "5000", 5000),
    ("--requests-per-minute", "inf", float("inf")),  # no limit is harmless
])
def test_ordinary_numbers_still_parse(option, value, parsed):
    args = build_parser().parse_args(["embed", "in.jsonl", "-o", "out.parquet", option, value])
    assert getattr(args, option.lstrip("-").replace("-", "_")) == parsed
