# The 15 ImageNet-C benchmark corruptions (imagecorruptions package) on all cameras, severity 3.
# Names as in fusion_moe.degradation.DEGRADATIONS ('image_fog' is the package's 'fog').
_benchmark = ('gaussian_noise', 'shot_noise', 'impulse_noise', 'defocus_blur', 'glass_blur',
              'motion_blur', 'zoom_blur', 'snow', 'frost', 'fog', 'brightness', 'contrast',
              'elastic_transform', 'pixelate', 'jpeg_compression')
image_corruption_pipelines = {
    ('image_fog' if name == 'fog' else name):
        [dict(type='ImageCorruption', corruption=name, severity=3, seed=0)]
    for name in _benchmark}
del _benchmark
