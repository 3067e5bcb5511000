"""Write a synthetic nuScenes set (exact nuScenes layout; the devkit loads it unmodified).

Example:
    python tools/create_synthetic.py --out data/synth --scenes 10 --samples-per-scene 8 --seed 0

<= 10 scenes make 'v1.0-mini' (official mini_train / mini_val scene names), more make
'v1.0-trainval' (train / val names). Then create the info files with
``python tools/create_data.py nuscenes --root-path data/synth --version <printed version>``.
"""
import argparse
import logging
import sys
import time

from fusion_moe.data.synthetic import generate_dataset


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/synth', help='dataset root to write')
    parser.add_argument('--scenes', type=int, default=10, help='number of scenes (1-850)')
    parser.add_argument('--samples-per-scene', type=int, default=8,
                        help='keyframes per scene (2 Hz), >= 2')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--image-size', type=int, nargs=2, default=(1600, 900),
                        metavar=('WIDTH', 'HEIGHT'), help='camera image size in pixels')
    parser.add_argument('--night-share', type=float, default=0.2,
                        help='fraction of night scenes')
    parser.add_argument('--rain-share', type=float, default=0.2, help='fraction of rain scenes')
    parser.add_argument('--lidar-sweeps', type=int, default=9,
                        help='LiDAR sweeps between keyframes (9 = 20 Hz as nuScenes)')
    parser.add_argument('--radar-hz', type=float, default=13.0, help='radar scan rate')
    parser.add_argument('--workers', type=int, default=0,
                        help='scenes simulated in parallel processes (0: one per core, at most '
                             '4; the set is the same for any number)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing synthetic set at --out')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
    start = time.perf_counter()
    version = generate_dataset(
        args.out, num_scenes=args.scenes, samples_per_scene=args.samples_per_scene,
        seed=args.seed, image_size=tuple(args.image_size), night_share=args.night_share,
        rain_share=args.rain_share, lidar_sweeps=args.lidar_sweeps, radar_hz=args.radar_hz,
        workers=args.workers, overwrite=args.overwrite)
    seconds = time.perf_counter() - start
    keyframes = args.scenes * args.samples_per_scene
    print(f'wrote {version} with {args.scenes} scenes x {args.samples_per_scene} samples to '
          f'{args.out} in {seconds:.1f} s ({keyframes / seconds:.2f} keyframes/s)')
    print(version)
    return 0


if __name__ == '__main__':
    sys.exit(main())
