"""Error messages: one clear line, never a JVM stack trace."""

from __future__ import annotations

from harness.errors import first_line


def test_error_first_line_skips_jvm_trace_and_survives_empty_messages() -> None:
    assert first_line(ValueError("")) == "ValueError"  # str(exc).splitlines()[0] would crash
    trace = "\n  [TABLE_OR_VIEW_NOT_FOUND] no table `x`\n\tat org.apache.spark.Foo(Foo.scala:1)"
    assert first_line(RuntimeError(trace)) == "[TABLE_OR_VIEW_NOT_FOUND] no table `x`"
    assert first_line(RuntimeError("y" * 50), limit=10) == "yyyyyyy..."
