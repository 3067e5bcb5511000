"""tools/train.py makes a config's synthetic set only where it may: a root holding nuScenes
tables it did not make is refused before anything there (info files included) is touched."""
import os
import os.path as osp

import pytest
from tool_scripts import load_tool


def test_a_root_with_foreign_nuscenes_tables_is_refused_and_keeps_its_info_files(tmp_path):
    root = str(tmp_path)
    os.makedirs(osp.join(root, 'v1.0-mini'))
    open(osp.join(root, 'v1.0-mini', 'sample.json'), 'w').write('[]')  # someone's real tables
    info = osp.join(root, 'nuscenes_infos_train.pkl')
    open(info, 'wb').write(b'not ours')
    train = load_tool('train')
    with pytest.raises(FileExistsError, match='SYNTHETIC.json'):
        train.ensure_synthetic_data(root, num_scenes=2, samples_per_scene=2, seed=0,
                                    image_size=(32, 18), lidar_sweeps=0)
    assert open(info, 'rb').read() == b'not ours'
    assert os.listdir(osp.join(root, 'v1.0-mini')) == ['sample.json']
