"""The tables of the recipe report: read the scores the stages wrote, format them as Markdown.

Pure functions over result files (``score_wer``'s ``wer.json`` / ``per_utt.json``,
``score_enh``'s ``metrics.json``, stage 2's ``analysis.json``); ``results.py`` assembles them.
A result file that is missing is appended to the caller's ``missing`` list, never skipped silently.
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from espnet_pise.report.bootstrap import seed_wer_difference, wer_difference

Rows = Dict[str, Dict[str, str]]  # system -> test set -> cell

_SNR = re.compile(r"_(-?\d+)dB")


def markdown_table(title: str, rows: Rows, columns: List[str]) -> str:
    """``### title`` and a table with one row per system, one column per test set (``-`` if absent)."""
    lines = [f"### {title}", "", "|system|" + "|".join(columns) + "|", "|---|" + "---|" * len(columns)]
    for system, vals in rows.items():
        lines.append(f"|{system}|" + "|".join(vals.get(s, "-") for s in columns) + "|")
    return "\n".join(lines) + "\n"


def interval(d: Tuple[float, float, float]) -> str:
    """``-1.6 [-5.8, +4.1]``: a difference and its interval."""
    return f"{d[0]:+.1f} [{d[1]:+.1f}, {d[2]:+.1f}]"


def git_revision(exp_dir: Path) -> str:
    """The revision an experiment recorded in its ``git_revision`` file, else ``unknown``."""
    f = exp_dir / "git_revision"
    return f.read_text().strip() if f.is_file() else "unknown"


def snr_of(data_dir: Path, test_set: str) -> Dict[str, str]:
    """{utt: SNR in dB} from utt2category (``<noise>_<snr>dB``); empty where the set has none."""
    f = data_dir / test_set / "utt2category"
    out = {}
    if f.is_file():
        for line in f.read_text().splitlines():
            uid, _, cat = line.partition(" ")
            m = _SNR.search(cat)
            if m:
                out[uid] = m.group(1)
    return out


@dataclass
class AsrScores:
    """Per system and test set: WER / CER values, their table cells and per-utterance errors."""

    wer: Dict[str, Dict[str, float]] = field(default_factory=dict)
    cer: Dict[str, Dict[str, float]] = field(default_factory=dict)
    wer_cells: Rows = field(default_factory=dict)
    cer_cells: Rows = field(default_factory=dict)
    per_utt: Dict[str, Dict[str, dict]] = field(default_factory=dict)
    normalizer: Optional[str] = "none"


def read_asr_scores(asr_exp: Path, systems: List[str], test_sets: List[str], missing: List[str]) -> AsrScores:
    """``<asr_exp>/decode_<system>/<set>/score_wer/wer.json`` (and ``per_utt.json`` beside it)."""
    scores = AsrScores()
    for system in systems:
        for table in (scores.wer, scores.cer, scores.wer_cells, scores.cer_cells, scores.per_utt):
            table[system] = {}
        for s in test_sets:
            f = asr_exp / f"decode_{system}" / s / "score_wer" / "wer.json"
            if not f.is_file():
                missing.append(str(f))
                continue
            r = json.loads(f.read_text())
            scores.normalizer = r.get("normalizer", "none")
            w = max(r["wrd"], 1)
            scores.wer[system][s], scores.cer[system][s] = r["wer"], r["cer"]
            scores.wer_cells[system][s] = (
                f"{r['wer']:.1f} ({100 * r['sub'] / w:.1f}/{100 * r['del'] / w:.1f}/{100 * r['ins'] / w:.1f})"
            )
            scores.cer_cells[system][s] = f"{r['cer']:.1f}"
            if (f.parent / "per_utt.json").is_file():
                scores.per_utt[system][s] = json.loads((f.parent / "per_utt.json").read_text())
    return scores


def reference_sets(data_dir: Path, test_sets: List[str]) -> List[str]:
    """The test sets SE metrics apply to: those with a clean reference (``spk1.scp``), except
    ``test_clean`` (it is the reference); real recordings (e.g. CHiME-4 ``*_real``) have none."""
    return [s for s in test_sets if s != "test_clean" and (data_dir / s / "spk1.scp").is_file()]


SE_METRICS = ("pesq_wb", "stoi", "si_sdr")


def read_se_scores(se_exps: Dict[str, str], test_sets: List[str], missing: List[str]) -> Dict[str, Rows]:
    """{metric: rows} from ``<exp>/scoring_<set>/metrics.json`` (STOI x100)."""
    tables: Dict[str, Rows] = {key: {} for key in SE_METRICS}
    for system, exp in se_exps.items():
        for key in tables:
            tables[key][system] = {}
        for s in test_sets:
            f = Path(exp) / f"scoring_{s}" / "metrics.json"
            if not f.is_file():
                missing.append(str(f))
                continue
            m = json.loads(f.read_text())
            tables["pesq_wb"][system][s] = f"{m['pesq_wb']:.2f}"
            tables["stoi"][system][s] = f"{100 * m['stoi']:.1f}"
            tables["si_sdr"][system][s] = f"{m['si_sdr']:.1f}"
    return tables


def _difference_rows(systems: List[str], test_sets: List[str], base: str,
                     diff: Callable[[str, str], Optional[Tuple[float, float, float]]]) -> Tuple[Rows, List[float]]:
    """Cells ``diff(system, set)`` (a difference and its interval; None: not scored) of every system
    but ``base``, and the widths of the intervals."""
    rows: Rows = {}
    widths = []
    for system in systems:
        if system == base:
            continue
        rows[system] = {}
        for s in test_sets:
            d = diff(system, s)
            if d is not None:
                rows[system][s] = interval(d)
                widths.append(d[2] - d[1])
    return rows, widths


def wer_difference_tables(scores: AsrScores, systems: List[str], test_sets: List[str], baselines: List[str]) -> List[str]:
    """One table per baseline: each other system's WER minus the baseline's on the same
    utterances, with its paired bootstrap 95 % interval."""
    tables = []
    for base in [b for b in baselines if b in systems]:
        def diff(system, s):
            have = scores.per_utt
            return wer_difference(have[system][s], have[base][s]) if s in have[system] and s in have[base] else None

        rows, widths = _difference_rows(systems, test_sets, base, diff)
        if widths:
            tables.append(markdown_table(
                f"WER difference to `{base}` (points; paired bootstrap 95 % interval over "
                f"utterances, scipy BCa; median interval width {np.median(widths):.1f} points)",
                rows, test_sets))
    return tables


MOVED_SUFFIXES = ("_shift", "_speed")  # copies of a test set, same utterance ids, moved in time


def moved_sets(test_sets: List[str]) -> List[Tuple[str, str]]:
    """(moved copy, its base set) for every ``<base>_shift`` / ``<base>_speed`` whose base is listed."""
    return [(s, s[: -len(x)]) for s in test_sets for x in MOVED_SUFFIXES if s.endswith(x) and s[: -len(x)] in test_sets]


def _change(per_utt_moved: dict, per_utt_base: dict, what: str = "a moved test set and its base set") -> dict:
    """Per utterance: errors on the moved copy minus errors on the base set (same ids, same words)."""
    if set(per_utt_moved) != set(per_utt_base):
        raise ValueError(f"{what} hold different utterances ({len(set(per_utt_moved) ^ set(per_utt_base))} differ)")
    return {u: [per_utt_moved[u][0] - per_utt_base[u][0], per_utt_base[u][1]] for u in per_utt_base}


def robustness_tables(scores: AsrScores, systems: List[str], test_sets: List[str], reference: Optional[str]) -> List[str]:
    """How much each system's WER changes when the speech is moved (``_shift``: a 0.1-1 s offset;
    ``_speed``: 0.9 / 1.1 speed), relative to its own unmoved set, with a paired bootstrap 95 %
    interval over utterances; and that change minus the ``reference`` system's (where a
    position-invariant loss should differ from ``ssl_mse``)."""
    pairs = moved_sets(test_sets)
    if not pairs:
        return []
    change: Rows = {}
    vs_ref: Rows = {}
    for system in systems:
        change[system], vs_ref[system] = {}, {}
        for moved, base in pairs:
            have = scores.per_utt[system]
            if moved not in have or base not in have:
                continue
            d = _change(have[moved], have[base], f"{system}: {moved} and {base}")
            zero = {u: [0, n] for u, (_, n) in d.items()}
            change[system][moved] = interval(wer_difference(d, zero))
            ref = scores.per_utt.get(reference, {})
            if reference and system != reference and moved in ref and base in ref:
                ref_d = _change(ref[moved], ref[base], f"{reference}: {moved} and {base}")
                vs_ref[system][moved] = interval(wer_difference(d, ref_d))
    columns = [m for m, _ in pairs]
    out = [markdown_table("WER change on the moved copies: WER(copy) - WER(own unmoved set), points, "
                          "paired bootstrap 95 % interval", change, columns)]
    if any(vs_ref.values()):
        out.append(markdown_table(f"That change minus `{reference}`'s change (negative: more robust to the "
                                  f"move than `{reference}`)", {k: v for k, v in vs_ref.items() if v}, columns))
    return out


Runs = Dict[str, Dict[str, Dict[str, dict]]]  # system -> test set -> run name -> per_utt


def training_runs(scores: Dict[str, AsrScores], systems: List[str], test_sets: List[str]) -> Runs:
    """Each system's scores per test set in every recipe run (``--tag``, e.g. another training
    seed) that decoded it: ``scores`` maps a run's name to what it scored."""
    return {system: {s: {run: sc.per_utt[system][s] for run, sc in scores.items() if s in sc.per_utt.get(system, {})}
                     for s in test_sets} for system in systems}


def seed_tables(runs: Runs, test_sets: List[str], baselines: List[str], reference: Optional[str]) -> List[str]:
    """The systems over training runs: the mean WER with each run's, its difference to each baseline
    and the shift/speed change minus ``reference``'s, with 95 % intervals from a bootstrap over
    runs and utterances (``seed_wer_difference``)."""
    def wer(per_utt):
        return 100.0 * sum(e for e, _ in per_utt.values()) / max(sum(n for _, n in per_utt.values()), 1)

    means: Rows = {}
    for system, by_set in runs.items():
        means[system] = {}
        for s, by_run in by_set.items():
            rs = list(by_run.values())
            if rs:
                same = len(rs) > 1 and all(r == rs[0] for r in rs[1:])
                each = "" if len(rs) == 1 else " (same in every run)" if same else " (" + " / ".join(f"{wer(r):.1f}" for r in rs) + ")"
                means[system][s] = f"{np.mean([wer(r) for r in rs]):.1f}{each}"
    run_names = list(dict.fromkeys(run for by_set in runs.values() for by_run in by_set.values() for run in by_run))
    out = [markdown_table(f"WER % over the recipe runs {', '.join(f'`{n}`' for n in run_names)}: the mean "
                          "(each run's WER; one value: decoded in one run)", means, test_sets)]
    systems = list(runs)
    for base in [b for b in baselines if b in runs]:
        def diff(system, s):
            mine, theirs = list(runs[system][s].values()), list(runs[base][s].values())
            return seed_wer_difference(mine, theirs) if mine and theirs else None

        rows, widths = _difference_rows(systems, test_sets, base, diff)
        if widths:
            out.append(markdown_table(
                f"Mean WER difference to `{base}` over the runs (points; 95 % interval of a bootstrap over "
                f"runs and utterances; median width {np.median(widths):.1f} points)", rows, test_sets))
    def changes(system, moved, base):  # per run that decoded both sets: errors on the copy minus on its base set
        m, b = runs[system][moved], runs[system][base]
        return [_change(m[r], b[r], f"{system} ({r}): {moved} and {base}") for r in m if r in b]

    pairs = moved_sets(test_sets)
    if reference in runs and pairs:
        rows = {}
        for system in systems:
            if system == reference:
                continue
            rows[system] = {}
            for moved, base in pairs:
                mine = changes(system, moved, base)
                ref = changes(reference, moved, base)
                if mine and ref:
                    rows[system][moved] = interval(seed_wer_difference(mine, ref))
        out.append(markdown_table(f"WER change on the moved copies minus `{reference}`'s, over the runs (negative: "
                                  "more robust to the move than `" + reference + "`; bootstrap over runs and utterances)",
                                  {k: v for k, v in rows.items() if v}, [m for m, _ in pairs]))
    return out


def wer_by_snr(scores: AsrScores, systems: List[str], test_sets: List[str], data_dir: Path) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{test set: {system: {SNR: WER %}}} for the sets whose utt2category names the SNR."""
    by_snr: Dict[str, Dict[str, Dict[str, float]]] = {}
    for s in test_sets:
        snr = snr_of(data_dir, s)
        if not snr:
            continue
        by_snr[s] = {}
        for system in systems:
            if s not in scores.per_utt[system]:
                continue
            errs: Dict[str, List[int]] = {}
            for uid, (e, n) in scores.per_utt[system][s].items():
                acc = errs.setdefault(snr.get(uid, "?"), [0, 0])
                acc[0] += e
                acc[1] += n
            by_snr[s][system] = {k: 100.0 * e / max(n, 1) for k, (e, n) in errs.items() if k != "?"}
    return by_snr


def snr_tables(by_snr: Dict[str, Dict[str, Dict[str, float]]]) -> List[str]:
    """One Markdown table per test set of ``wer_by_snr``: WER % per system (rows) and SNR (columns, dB)."""
    out = []
    for s, rates in by_snr.items():
        snrs = sorted({x for r in rates.values() for x in r}, key=float)
        rows = {system: {f"{x} dB": f"{r[x]:.1f}" for x in r} for system, r in rates.items()}
        out.append(markdown_table(f"{s}: WER % by SNR", rows, [f"{x} dB" for x in snrs]))
    return out


def dev_choice_lines(system: str, choice: dict, source: Path) -> List[str]:
    """A setting chosen on dev (a ``dev_choice.json``: ``dev_set``, ``wer_by_<option>`` {value: WER %},
    ``<option>``: the chosen value) as a line of Markdown."""
    keys = [k for k in choice if k.startswith("wer_by_")]
    if len(keys) != 1 or keys[0][len("wer_by_"):] not in choice or "dev_set" not in choice:
        raise ValueError(f"{source}: a dev choice needs dev_set, one wer_by_<option> and <option>; got {sorted(choice)}")
    option = keys[0][len("wer_by_"):]
    tried = ", ".join(f"{v}: {w:.1f}" for v, w in sorted(choice[keys[0]].items(), key=lambda kv: float(kv[0])))
    return [f"- `{system}`: {option} = {choice[option]:g}, the lowest WER on `{choice['dev_set']}` "
            f"(WER % by {option}: {tried}; `{source}`)"]


def speaker_table(scores: AsrScores, systems: List[str], test_set: str, data_dir: Path) -> str:
    """WER % per speaker (the corpus's voices: ``utt2spk``) of one test set, a column per system,
    pooled errors / words, with each speaker's word count; empty where the set has no utt2spk."""
    f = data_dir / test_set / "utt2spk"
    have = [x for x in systems if test_set in scores.per_utt[x]]
    if not f.is_file() or not have:
        return ""
    spk = dict(line.split(maxsplit=1) for line in f.read_text().splitlines() if line.strip())
    lines = [f"### {test_set}: WER % by speaker", "", "|speaker|words|" + "|".join(have) + "|",
             "|---|---|" + "---|" * len(have)]
    for speaker in sorted(set(spk.values())):
        cells, words = [], 0
        for system in have:
            pooled = [v for u, v in scores.per_utt[system][test_set].items() if spk.get(u) == speaker]
            words = sum(n for _, n in pooled)
            cells.append(f"{100.0 * sum(e for e, _ in pooled) / max(words, 1):.1f}" if pooled else "-")
        lines.append(f"|{speaker}|{words}|" + "|".join(cells) + "|")
    return "\n".join(lines) + "\n"


def systems_table(systems: List[str], se_exps: Dict[str, str]) -> List[str]:
    """Lines of the table of each system's model config and the revision it was trained at."""
    lines = ["|system|model config|git revision at training|", "|---|---|---|"]
    for system in systems:
        cfg = Path(se_exps.get(system, "-")) / "config.yaml"
        if cfg.is_file():
            lines.append(f"|{system}|`{cfg}`|`{git_revision(cfg.parent)}`|")
        else:
            lines.append(f"|{system}|no SE (unprocessed input)|-|")
    return lines


_CHANGES = ("pad1", "pad5", "pad25", "noise")


def teacher_section(analysis: dict, ssl_model: str) -> List[str]:
    """Lines of stage 2's teacher analysis: CTC probe CER and the feature change by padding vs noise."""
    cer = analysis["probe_dev_cer"]
    lines = ["", f"## Teacher (stage 2): `{ssl_model}`", "",
             f"CTC probe (frozen features, linear, {analysis['probe']['steps']} steps of "
             f"{analysis['probe']['batch']} utterances), "
             f"dev CER: pre-trained **{cer['pretrained']:.1f} %**, random init of the same architecture "
             f"**{cer['random_init']:.1f} %**.", "",
             "Relative feature change of a clean utterance, last layer (zero-padding by K frames, realigned; "
             "vs the test set's noise):", "", "|model|pad 1|pad 5|pad 25|noise|", "|---|---|---|---|---|"]
    for model, r in analysis["relative_feature_change"].items():
        if isinstance(r, dict):
            lines.append(f"|{model}|" + "|".join(f"{r[k][-1]:.3f}" for k in _CHANGES) + "|")
    r = analysis["relative_feature_change"]["pretrained"]
    lines += ["", "The same per layer of the pre-trained model (0 = input of the first block): where a shift "
              "changes the features as much as the noise does, a frame-wise loss can be lowered through position.",
              "", "|layer|pad 1|pad 5|pad 25|noise|", "|---|---|---|---|---|"]
    for layer in range(len(r["noise"])):
        lines.append(f"|{layer}|" + "|".join(f"{r[k][layer]:.3f}" for k in _CHANGES) + "|")
    return lines
