"""`tendero chat` as a process: lines on stdin, replies from the pipeline on stdout."""

from __future__ import annotations

from tests.conftest import CLI


def test_chat_answers_each_line_through_the_pipeline(cli: CLI) -> None:
    result = cli(
        "chat", "--user", "ana", input="hola, quiero comprar\nhello, how much?\n", timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 2, result.stdout
    assert "Gracias" in lines[0] and "Thanks" in lines[1]
    # The same conversation continues on the next run, recorded under the lead.
    again = cli("chat", "--user", "ana", "--channel", "whatsapp", input="hola\n", timeout=120)
    assert again.returncode == 0 and "Gracias" in again.stdout
