"""Which generalist-fallback threshold to choose: the share of tokens each threshold would send.

    python tools/fallback_rates.py CONFIG CKPT|none [--thresholds 0.005 0.01 0.05] [--samples 16]

Runs the trained model's inference forward on the first ``--samples`` validation samples and,
per MoE layer, prints the median gate gap (top-1 minus top-2 router probability, as the
fallback uses it, ``fusion_moe.models.moe.gate_gap``) and the share of routed tokens whose gap
is below each threshold: the token-level fallback rate that threshold would give. Needs no
generalist in the model (only the routers decide).
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--thresholds', type=float, nargs='+', default=[0.005, 0.01, 0.02, 0.05])
    parser.add_argument('--samples', type=int, default=16)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    import fusion_moe  # noqa: F401  (registration)
    from fusion_moe.engine import load_model_weights
    from fusion_moe.models.moe import find_moe_layers, gate_gap
    from fusion_moe.registry import DATASETS, MODELS
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(args.config)
    model = MODELS.build(cfg.model)
    if args.checkpoint != 'none':  # 'none': freshly initialised routers
        load_model_weights(model, args.checkpoint)
    model.eval()
    if not find_moe_layers(model):
        parser.error(f'{args.config}: the model has no MoE layer')
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    gaps = {}
    hooks = [layer.register_forward_hook(
        lambda m, a, kw, out, name=name: gaps.setdefault(name, []).append(
            gate_gap(out[1].probs.detach())[kw['valid_mask'].bool()]
            if kw.get('valid_mask') is not None else gate_gap(out[1].probs.detach())),
        with_kwargs=True) for name, layer in find_moe_layers(model)]
    count = min(args.samples, len(dataset))
    for start in range(0, count, args.batch_size):
        batch = pseudo_collate([dataset[i] for i in range(start, min(start + args.batch_size,
                                                                     count))])
        with torch.no_grad():
            model.test_step(batch)
    for hook in hooks:
        hook.remove()
    result = {}
    for name, parts in gaps.items():
        gap = torch.cat(parts).float()
        result[name] = {'tokens': int(gap.numel()), 'median_gate_gap': float(gap.median()),
                        'fallback_rate': {str(t): float((gap < t).float().mean())
                                          for t in args.thresholds}}
        rates = ' '.join(f'{t:g}: {v:.3f}' for t, v in
                         zip(args.thresholds, result[name]['fallback_rate'].values()))
        print(f'{name}: {gap.numel()} tokens, median gate gap {float(gap.median()):.4f}; '
              f'fallback rate by threshold {rates}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
