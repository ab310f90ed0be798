#!/usr/bin/env python3
"""Runs notebooks in the real Deno Jupyter kernel, cell by cell, and reports what each produced.

Usage:
    python3 scripts/run_notebooks.py [--scale smoke] [--json FILE] [--write DIR | --in-place]
                                     [--timeout SECONDS] [--settle SECONDS] [--kernel deno]
                                     [NOTEBOOK ...]

With no NOTEBOOK, runs every notebooks/NN-name.ipynb. Each notebook gets a fresh kernel started
in the notebook's own folder (as JupyterLab does), with FIGURE_SCALE (and the rest of this
process's environment) passed on. A notebook fails on an `error` output, an execute reply whose
status is not "ok", a cell timeout or a kernel that dies; the others still run. Exit status: 0
when all succeed, 1 when one failed, 2 on bad arguments or a missing Jupyter setup.

Needs only `jupyter_client` (Debian: python3-jupyter-client) and the Deno kernelspec
(`deno jupyter --install`); see .ci/jupyter.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_NAME = re.compile(r"^\d{2}-[a-z0-9][a-z0-9-]*\.ipynb$")
SCALES = ("smoke", "quick", "long", "paper")
# The Deno kernel can publish outputs (display_data, stream) after its idle status message, so
# keep listening until the iopub channel has been silent this long after idle (--settle).
SETTLE_SECONDS = 0.5


def find_notebooks() -> list[Path]:
    """Every notebooks/NN-name.ipynb, in name order."""
    folder = ROOT / "notebooks"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if NOTEBOOK_NAME.match(p.name))


def cell_source(cell: dict) -> str:
    """A cell's source as one string (nbformat allows a string or a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def output_from_message(msg: dict) -> dict | None:
    """The nbformat output for one iopub message, or None for messages that are not outputs."""
    kind = msg["header"]["msg_type"]
    content = msg["content"]
    if kind == "stream":
        return {"output_type": "stream", "name": content["name"], "text": content["text"]}
    if kind in ("display_data", "update_display_data"):
        return {
            "output_type": "display_data",
            "data": content.get("data", {}),
            "metadata": content.get("metadata", {}),
        }
    if kind == "execute_result":
        return {
            "output_type": "execute_result",
            "execution_count": content.get("execution_count"),
            "data": content.get("data", {}),
            "metadata": content.get("metadata", {}),
        }
    if kind == "error":
        return {
            "output_type": "error",
            "ename": content.get("ename", ""),
            "evalue": content.get("evalue", ""),
            "traceback": content.get("traceback", []),
        }
    return None


def collect_outputs(client, msg_id: str, timeout: float, settle: float) -> tuple[list[dict], str]:
    """Reads iopub until the cell is idle and the channel has settled; returns outputs and why
    it stopped ("idle" or "timeout")."""
    outputs: list[dict] = []
    deadline = time.monotonic() + timeout
    idle_at: float | None = None
    while True:
        now = time.monotonic()
        if idle_at is None and now >= deadline:
            return outputs, "timeout"
        wait = settle if idle_at is not None else min(5.0, deadline - now)
        try:
            msg = client.get_iopub_msg(timeout=max(wait, 0.01))
        except queue.Empty:
            if idle_at is not None:
                return outputs, "idle"  # silent for `settle` seconds after idle: done
            if not client.is_alive():
                return outputs, "dead"
            continue
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue  # output of an earlier cell or of kernel start-up
        kind = msg["header"]["msg_type"]
        if kind == "status" and msg["content"].get("execution_state") == "idle":
            idle_at = time.monotonic()
            continue
        output = output_from_message(msg)
        if output is not None:
            outputs.append(output)


def error_text(output: dict) -> str:
    """One readable block for an error output (tracebacks may carry ANSI colours)."""
    text = "\n".join(output.get("traceback") or [f"{output.get('ename')}: {output.get('evalue')}"])
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def run_notebook(path: Path, kernel: str, timeout: float, settle: float,
                 env: dict[str, str]) -> dict:
    """Executes every code cell of one notebook in a fresh kernel; returns a report dict and
    stores the outputs in the notebook JSON (under report["notebook"])."""
    from jupyter_client.manager import KernelManager

    notebook = json.loads(path.read_text(encoding="utf-8"))
    report: dict = {
        "notebook": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
        "ok": True,
        "cells": [],
        "error": None,
    }
    started = time.monotonic()
    manager = KernelManager(kernel_name=kernel)
    client = None
    try:
        # The notebook's folder, as JupyterLab does: relative imports and deno.json resolve
        # from there.
        manager.start_kernel(cwd=str(path.parent), env=env)
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=120)
        count = 0
        for index, cell in enumerate(notebook.get("cells", [])):
            if cell.get("cell_type") != "code":
                continue
            source = cell_source(cell)
            if source.strip() == "":
                cell["outputs"] = []
                continue
            count += 1
            cell_started = time.monotonic()
            msg_id = client.execute(source, store_history=True, allow_stdin=False)
            outputs, stop = collect_outputs(client, msg_id, timeout, settle)
            reply_status = "missing"
            try:
                reply = client.get_shell_msg(timeout=10)
                while reply.get("parent_header", {}).get("msg_id") != msg_id:
                    reply = client.get_shell_msg(timeout=10)
                reply_status = reply["content"].get("status", "missing")
            except queue.Empty:
                pass
            cell["outputs"] = outputs
            cell["execution_count"] = count
            for output in outputs:
                if output["output_type"] == "execute_result":
                    output["execution_count"] = count
            errors = [error_text(o) for o in outputs if o["output_type"] == "error"]
            failure = None
            if stop == "timeout":
                failure = f"cell {index} timed out after {timeout:g} s"
            elif stop == "dead":
                failure = f"kernel died during cell {index}"
            elif errors:
                failure = f"cell {index} raised an error:\n" + "\n".join(errors)
            elif reply_status != "ok":
                failure = f"cell {index} finished with execute_reply status {reply_status!r}"
            report["cells"].append({
                "index": index,
                "seconds": round(time.monotonic() - cell_started, 3),
                "status": "ok" if failure is None else "error",
                "mimeTypes": sorted({m for o in outputs for m in o.get("data", {})}),
            })
            if failure is not None:
                report["ok"] = False
                report["error"] = failure
                break  # later cells depend on this one
    except Exception as error:  # kernel start-up or channel failure
        report["ok"] = False
        report["error"] = f"{type(error).__name__}: {error}"
    finally:
        if client is not None:
            client.stop_channels()
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    report["seconds"] = round(time.monotonic() - started, 3)
    report["outputs"] = [
        o for cell in notebook.get("cells", []) if cell.get("cell_type") == "code"
        for o in cell.get("outputs", [])
    ]
    report["executed"] = notebook
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/NN-*.ipynb")
    parser.add_argument("--scale", choices=SCALES, help="sets FIGURE_SCALE (default: inherited)")
    parser.add_argument("--kernel", default="deno", help="kernelspec name (default: deno)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per cell (900)")
    parser.add_argument("--settle", type=float, default=SETTLE_SECONDS,
                        help=f"seconds of silence after idle before a cell counts as done "
                             f"({SETTLE_SECONDS:g})")
    parser.add_argument("--json", type=Path, help="write the reports (with outputs) here")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--write", type=Path, metavar="DIR", help="write executed notebooks to DIR")
    where.add_argument("--in-place", action="store_true", help="write outputs into the notebooks")
    args = parser.parse_args(argv)

    try:
        import jupyter_client  # noqa: F401
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError:
        print("Cannot run notebooks: the Python module jupyter_client is missing "
              "(run .ci/jupyter.sh, or apt-get install python3-jupyter-client)", file=sys.stderr)
        return 2
    try:
        KernelSpecManager().get_kernel_spec(args.kernel)
    except NoSuchKernel:
        print(f"Cannot run notebooks: no Jupyter kernelspec named {args.kernel!r} "
              "(run deno jupyter --install)", file=sys.stderr)
        return 2

    paths = [p.resolve() for p in args.notebooks] or find_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"Cannot run notebooks: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    if args.scale is not None:
        env["FIGURE_SCALE"] = args.scale
    env.setdefault("NO_COLOR", "1")

    reports = []
    for path in paths:
        report = run_notebook(path, args.kernel, args.timeout, args.settle, env)
        status = "ok" if report["ok"] else "FAILED"
        print(f"{status:6} {report['notebook']} ({report['seconds']:.1f} s)", flush=True)
        if not report["ok"]:
            print(report["error"], file=sys.stderr, flush=True)
        executed = report.pop("executed")
        if args.in_place or args.write is not None:
            target = path if args.in_place else args.write / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            temporary.write_text(json.dumps(executed, indent=1, ensure_ascii=False) + "\n",
                                 encoding="utf-8")
            temporary.replace(target)
        reports.append(report)
    if args.json is not None:
        args.json.write_text(json.dumps(reports, indent=1) + "\n", encoding="utf-8")
    failed = sum(not r["ok"] for r in reports)
    print(f"{len(reports) - failed} notebooks passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
