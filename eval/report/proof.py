"""The disentanglement proof in the report: ``eval.proof``'s ``<results>/proof.json``, when there is one.

One table (each claim, whether it holds, and in how many cross-driving videos it holds on its own)
and ``eval.proof.format_table``'s full printout, so the report and the terminal show the same figures.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from eval.report.inputs import ResultsFileError

PROOF_FILE = "proof.json"


SECTIONS = ("reconstruction", "cross_driving", "audio_sync", "pose_seeds")  # objects format_table reads


def load_proof(results_dir: str | Path) -> dict | None:
    """The proof written by ``python -m eval.proof --out <results>/proof.json``; None when absent.

    Raises ``ResultsFileError`` for a file the report cannot show (unreadable, a field missing or
    of the wrong type), checked by rendering it here, before any report file is written."""
    path = Path(results_dir) / PROOF_FILE
    if not path.is_file():
        return None
    try:
        proof = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsFileError(path, f"not a readable eval.proof result ({err})") from None
    if not isinstance(proof, dict) or not isinstance(proof.get("claims"), dict):
        raise ResultsFileError(path, "no 'claims' object: not written by eval.proof")
    bad = [k for k in SECTIONS if not isinstance(proof.get(k), dict)]
    if bad:
        raise ResultsFileError(path, f"field(s) {bad} missing or not objects: not written by eval.proof")
    try:
        proof_html(proof)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        raise ResultsFileError(
            path, f"cannot be shown, a field is missing or of the wrong type ({type(err).__name__}: {err})"
        ) from None
    return proof


def proof_html(proof: dict) -> str:
    """The report section: the claims table, then the proof's own printed table."""
    from eval.proof.verdicts import CLAIM_TEXT, format_table, yes_no

    esc = html.escape
    support = proof.get("cross_driving", {}).get("videos_supporting", {})
    rows = []
    for claim, holds in proof["claims"].items():
        videos = f"{support[claim][0]} of {support[claim][1]}" if claim in support else ""
        said = f"{esc(CLAIM_TEXT[claim])} <code>{esc(claim)}</code>" if claim in CLAIM_TEXT else esc(claim)
        rows.append(f"<tr><td>{said}</td><td>{yes_no(holds)}</td><td>{videos}</td></tr>")
    passed = sum(1 for v in proof["claims"].values() if v)
    judged = sum(1 for v in proof["claims"].values() if v is not None)  # n/a: not measured or not trained
    na = f"; {len(proof['claims']) - judged} n/a" if judged < len(proof["claims"]) else ""
    return "\n".join(
        [
            '<section id="proof"><h2>Disentanglement proof (synthtalk test identities)</h2>',
            f"<p>{passed} of {judged} claims hold{na} for {esc(str(proof.get('checkpoint', '')))}"
            " (eval.proof; verdicts compare means, the last column counts the videos in which a"
            " cross-driving claim holds on its own).</p>",
            '<table class="report-table"><tr><th>claim</th><th>holds</th><th>videos</th></tr>',
            *rows,
            "</table>",
            f"<pre>{esc(format_table(proof))}</pre>",
            "</section>",
        ]
    )
