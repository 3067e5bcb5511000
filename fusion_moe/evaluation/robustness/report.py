"""``report.md`` and the plots of a robustness run, made from ``results.json`` alone.

:func:`make_report` is what both the benchmark's last step and
``tools/robustness.py --report DIR/results.json`` call, so a report remade from the JSON is the
same file. :func:`render_report` is a pure function of the results (fixed number formats, no
clock, no paths but those stored in the results).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

from .data_classes import RobustnessResults, load_results

REPORT_NAME = 'report.md'
PLOTS = {'nds_vs_severity': 'nds_vs_severity.png',
         'expert_utilisation': 'expert_utilisation.png',
         'fallback_vs_severity': 'fallback_vs_severity.png'}
_TP = ('trans_err', 'scale_err', 'orient_err', 'vel_err', 'attr_err')
_TP_NAMES = ('mATE', 'mASE', 'mAOE', 'mAVE', 'mAAE')


def _f(value: Optional[float], digits: int = 4) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def _pct(value: Optional[float], digits: int = 1) -> str:
    return '-' if value is None else f'{100.0 * value:.{digits}f}'


def _table(header: Sequence[str], rows: List[Sequence[str]]) -> List[str]:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return lines


def _ordered(results: RobustnessResults, kind: str):
    return [c for c in results.conditions.values() if c.kind == kind]


def _model_section(results: RobustnessResults) -> List[str]:
    m = results.model
    lines = ['## Model', '', f'- config: `{m.config}`', f'- checkpoint: `{m.checkpoint}`']
    kind = (f'MoE, {len(m.moe_layers)} MoE layer(s): ' + ', '.join(f'`{n}`' for n in m.moe_layers)
            if m.is_moe else 'dense (no MoE layer: no routing analysis)')
    lines.append(f'- model: {kind}')
    if m.reliability_gates:
        lines.append('- modality reliability gates: '
                     + ', '.join(f'`{n}`' for n in m.reliability_gates))
    source = ('as the model was built' if m.context_mode_source == 'model'
              else 'set by --context-mode')
    lines.append(f'- context mode: **{m.context_mode}** ({source})')
    if m.context_mode == 'oracle':
        lines += ['', '> **Oracle context: the router was told the injected condition.** Each '
                  'degradation sets the sample\'s driving context (e.g. fog_3 -> weather=fog, '
                  'night_2 -> lighting=night, source=injected) and the routers\' context bias '
                  'read it. These figures are not what a deployed model, which must estimate '
                  'the context, would reach.']
    elif m.context_mode == 'estimated':
        lines.append('  (the routers used the model\'s own context estimate; the injected '
                     'labels were not read)')
    return lines


def _setup_section(results: RobustnessResults) -> List[str]:
    d, s = results.data, results.suite
    lines = ['## Setup', '',
             f'- suite: **{s["name"]}**: {s.get("source", "")}',
             f'- degradations applied on the fly in the test pipeline, seeded per (seed, '
             f'sample) with seed {results.seed}',
             f'- data: `{d["data_root"]}` {d["version"]}, split {d["eval_set"]}, '
             f'{d["num_samples"]} samples; every metric from the nuScenes devkit '
             '(`metrics_summary.json` per condition under `conditions/<name>/`)']
    if results.baseline:
        b = results.baseline
        lines.append(f'- baseline: `{b["path"]}` (config `{b["model"]["config"]}`, context '
                     f'mode {b["model"]["context_mode"]})')
    else:
        lines.append('- baseline: none (RRA and CE need `--baseline RESULTS_JSON`)')
    t = results.timing
    if t:
        lines.append(f'- wall time: {_f(t.get("total_s"), 0)} s '
                     f'(setup {_f(t.get("setup_s"), 0)} s)')
    return lines


def _conditions_section(results: RobustnessResults) -> List[str]:
    clean = results.conditions['clean']
    base = (results.baseline or {}).get('metrics', {}).get('NDS', {})
    header = ['condition', 'mAP', 'NDS', 'NDS - clean', 'baseline NDS'] + list(_TP_NAMES) \
        + ['time (s)']
    rows = []
    for c in _ordered(results, 'clean') + _ordered(results, 'corruption'):
        tp = c.devkit['tp_errors']
        rows.append([c.name, _f(c.metric('mAP')), _f(c.metric('NDS')),
                     _f(c.metric('NDS') - clean.metric('NDS')),
                     _f(base.get(c.name)) if base else '-']
                    + [_f(tp[k], 3) for k in _TP] + [_f(c.wall_time_s, 1)])
    lines = ['## Devkit metrics per condition', ''] + _table(header, rows)
    flagged = [c for c in _ordered(results, 'clean') + _ordered(results, 'corruption')
               if c.present_classes]
    for c in flagged:
        p = c.present_classes
        lines += ['', f'{c.name}: the evaluated split has no ground truth of '
                  f'{", ".join(p["absent"])}; over the {len(p["classes"])} classes present: '
                  f'mAP {_f(p["mean_ap"])}, NDS {_f(p["nd_score"])}.']
    return lines


def _scores_section(results: RobustnessResults) -> List[str]:
    scores = results.scores.get('NDS')
    corruptions = list(results.corruption_table('NDS'))
    if not scores or not corruptions:
        return ['## Robustness scores', '', 'No corruption was run.']
    mc, nc, r3 = scores['multicorrupt'], scores['nuscenes_c'], scores['robo3d']
    severities = sorted({int(s) for c in corruptions for s in mc['RA'][c]})
    header = (['corruption'] + [f'RA s{s}' for s in severities]
              + ['RA mean', 'RCE mean (%)', 'RR (%)', 'CE (%)', 'RRA (%)'])
    rows = []
    for c in corruptions:
        ra = mc['RA'][c]
        rce = [v for v in nc['RCE'][c].values() if v is not None]
        ra_values = [v for v in ra.values() if v is not None]
        rows.append([c] + [_f(ra.get(str(s)), 3) for s in severities]
                    + [_f(sum(ra_values) / len(ra_values) if ra_values else None, 3),
                       _pct(sum(rce) / len(rce) if rce else None),
                       _pct(r3['RR'].get(c)),
                       _pct((r3['CE'] or {}).get(c)), _pct((mc['RRA'] or {}).get(c))])
    lines = ['## Robustness scores (NDS)', '',
             'RA, RRA: MultiCorrupt; RCE: nuScenes-C; CE, RR: Robo3D (definitions in DESIGN.md, '
             '"Results"). RRA and CE compare with the baseline over the severities both ran.', '']
    lines += _table(header, rows)
    summary = [['NDS', _f(mc['mRA'], 3), _pct(mc['mRRA']), _pct(nc['mRCE']),
                _pct(r3['mCE']), _pct(r3['mRR'])]]
    m = results.scores.get('mAP')
    if m:
        summary.append(['mAP', _f(m['multicorrupt']['mRA'], 3),
                        _pct(m['multicorrupt']['mRRA']), _pct(m['nuscenes_c']['mRCE']),
                        _pct(m['robo3d']['mCE']), _pct(m['robo3d']['mRR'])])
    lines += [''] + _table(['metric', 'mRA', 'mRRA (%)', 'mRCE (%)', 'mCE (%)', 'mRR (%)'],
                           summary)
    return lines


def _subsets_section(results: RobustnessResults) -> List[str]:
    subsets = results.data.get('real_subsets') or {}
    if not subsets:
        return []
    lines = ['## Real conditions (subsets of the evaluated split, clean predictions)', '',
             'From the scene descriptions (whole-word "night", "rain"). A subset lacking some '
             'classes gets AP 0 for them from the devkit; the right-hand columns average over '
             'the classes it has.', '']
    rows = []
    for name, subset in subsets.items():
        c = results.conditions.get(f'real_{name}')
        if c is None:
            rows.append([name, '0', '0', 'no scene of the evaluated split', '', '', '', ''])
            continue
        p = c.present_classes
        rows.append([name, str(len(subset['scenes'])), str(subset['num_samples']),
                     _f(c.metric('mAP')), _f(c.metric('NDS')),
                     _f(p['mean_ap']) if p else 'same', _f(p['nd_score']) if p else 'same',
                     ', '.join(p['absent']) if p else '-'])
    lines += _table(['subset', 'scenes', 'samples', 'devkit mAP', 'devkit NDS',
                     'mAP (present classes)', 'NDS (present classes)', 'absent classes'], rows)
    return lines


def _routing_section(results: RobustnessResults) -> List[str]:
    if not results.model.is_moe:
        return []
    conds = _ordered(results, 'clean') + _ordered(results, 'corruption')
    modalities = sorted({m for c in conds
                         for m in (c.routing.get('overall') or {}).get('suppression_rate', {})})
    header = (['condition', 'routing entropy (nats)', 'fallback rate', 'top-1 flip rate']
              + [f'suppressed {m}' for m in modalities])
    rows = []
    for c in conds:
        o = c.routing.get('overall') or {}
        supp = o.get('suppression_rate') or {}
        rows.append([c.name, _f(o.get('routing_entropy')), _f(o.get('fallback_rate')),
                     _f(o.get('top1_flip_rate'))] + [_f(supp.get(m)) for m in modalities])
    lines = ['## Routing', '',
             'Entropy and fallback rate are token-weighted over the MoE layers; the top-1 flip '
             'rate is the share of tokens, routed in both runs, whose top-1 expert differs '
             'between the clean and the degraded version of the same sample (generalist '
             'fallback counts as its own expert); suppression is the share of samples whose '
             'modality, present on input, a reliability gate removed.', '']
    lines += _table(header, rows)
    clean = results.conditions['clean'].routing.get('layers') or {}
    for name, layer in clean.items():
        load = ' '.join(f'{v:.3f}' for v in layer['expert_load'])
        lines += ['', f'`{name}` on clean data: expert load [{load}], '
                  f'{layer["num_tokens"]} tokens']
        for factor, per_value in (layer.get('context_utilisation') or {}).items():
            for value, entry in per_value.items():
                if entry['tokens']:
                    shares = ' '.join(f'{v:.3f}' for v in entry['expert_load'])
                    lines.append(f'- {factor}={value}: top-1 shares [{shares}] '
                                 f'({entry["tokens"]} tokens)')
    return lines


def _suite_notes_section(results: RobustnessResults) -> List[str]:
    approximate = [c for c in results.suite.get('corruptions', [])
                   if c.get('status') == 'approximate' or c.get('note')]
    not_run = results.suite.get('not_run') or []
    if not approximate and not not_run:
        return []
    lines = [f'## The `{results.suite["name"]}` suite: notes, approximations, corruptions '
             'not run', '']
    lines += [f'- {c["name"]} ({c["status"]}): {c["note"]}' for c in approximate]
    lines += [f'- {c["name"]}: **not run** (our injector cannot produce it): {c["note"]}'
              for c in not_run]
    return lines


def render_report(results: RobustnessResults, plots: Sequence[str] = ()) -> str:
    """The markdown report of ``results`` (plots: file names to list, relative to it)."""
    title = osp.basename(results.model.config)
    sections = [[f'# Robustness report: {title}'], _model_section(results),
                _setup_section(results), _conditions_section(results),
                _scores_section(results), _subsets_section(results),
                _routing_section(results), _suite_notes_section(results)]
    if plots:
        sections.append(['## Plots', ''] + [f'![{p}]({p})' for p in plots])
    return '\n\n'.join('\n'.join(s) for s in sections if s) + '\n'


def make_report(results_path: str, out_dir: Optional[str] = None) -> Dict[str, str]:
    """Write ``report.md`` and the plots for ``results_path`` into ``out_dir`` (default: its
    folder). Returns ``{'report': path, <plot name>: path, ...}``."""
    from fusion_moe.viz.robustness_plots import (plot_expert_utilisation,
                                                 plot_fallback_vs_severity,
                                                 plot_nds_vs_severity)
    results = load_results(results_path)
    out_dir = out_dir or osp.dirname(osp.abspath(results_path))
    written = {}
    if results.corruption_table('NDS'):
        written['nds_vs_severity'] = plot_nds_vs_severity(
            results, osp.join(out_dir, PLOTS['nds_vs_severity']))
    if results.model.is_moe:
        written['expert_utilisation'] = plot_expert_utilisation(
            results, osp.join(out_dir, PLOTS['expert_utilisation']))
        if results.corruption_table('NDS'):
            written['fallback_vs_severity'] = plot_fallback_vs_severity(
                results, osp.join(out_dir, PLOTS['fallback_vs_severity']))
    report = osp.join(out_dir, REPORT_NAME)
    with open(report, 'w') as f:
        f.write(render_report(results, [osp.basename(p) for p in written.values()]))
    return {'report': report, **written}
