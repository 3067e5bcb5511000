#!/usr/bin/env bash
# Create .venv and install the pinned stack (requirements/pins.txt). Idempotent: a stamp keyed
# by the pins file's hash makes a second run a quick check. Prints what it did and how long.
#
# Environment:
#   VENV              where to create the virtualenv (default: .venv)
#   PIP_FIND_LINKS    extra wheel folders, e.g. ../shared/wheels (a prebuilt mmcv with ops);
#                     merged with pip's own configured find-links, never replacing them.
#   TORCH_INDEX_URL   optional extra index for the pinned torch's CPU build on machines whose
#                     default index would resolve to a CUDA build (e.g. PyTorch's CPU index).
#   FUSION_MOE_SKIP_APT=1  do not try to apt-get open3d's system libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-.venv}
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
PINS=requirements/pins.txt
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
t0=$(date +%s)
log() { printf '[setup %4ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

pin() {  # pin NAME -> NAME==VERSION from the pins file
  grep -E "^$1==" "$PINS" | head -n1
}

stamp="$VENV/.fusion_moe_setup_$(sha256sum "$PINS" setup.cfg tools/setup_env.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  if "$VENV/bin/python" -c 'import fusion_moe, mmdet3d, mmcv.ops, spconv.pytorch, nuscenes, open3d' \
      >/dev/null 2>&1; then
    log "already set up ($VENV matches $PINS); nothing to do"
    exit 0
  fi
  log "stamp present but imports fail: reinstalling"
  rm -f "$stamp"
fi

# 1. System libraries open3d needs (libusb; vulkan + mesa for offscreen rendering).
need_apt=()
ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0' || need_apt+=(libusb-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || need_apt+=(libvulkan1 mesa-vulkan-drivers)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "${FUSION_MOE_SKIP_APT:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian packages for open3d: ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    log "WARNING: open3d needs the system packages ${need_apt[*]}; install them (e.g." \
        "'sudo apt-get install ${need_apt[*]}'), then rerun"
  fi
else
  log "system libraries for open3d present"
fi

# 2. The virtualenv.
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# Keep pip's configured find-links (e.g. a local torch wheel) when PIP_FIND_LINKS is given.
cfg_links=$("$PY" -m pip config get global.find-links 2>/dev/null || true)
export PIP_FIND_LINKS="${PIP_FIND_LINKS:-} ${cfg_links}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
pipi() { "$PY" -m pip install --progress-bar off -q "$@"; }

# 3. torch (CPU build), numpy and setuptools first: mmcv's build imports all three.
log "installing $(pin torch) $(pin numpy) $(pin setuptools)"
torch_args=()
[ -n "${TORCH_INDEX_URL:-}" ] && torch_args=(--extra-index-url "$TORCH_INDEX_URL")
pipi "${torch_args[@]}" "$(pin torch)" "$(pin numpy)" "$(pin setuptools)" wheel ninja

# 4. mmcv 2.1.0 with compiled ops: a wheel from PIP_FIND_LINKS if there is one, else built
#    from the source release (about 19 minutes on 2 cores).
if "$PY" -c 'import mmcv.ops' >/dev/null 2>&1 && "$PY" -c 'import mmcv; assert mmcv.__version__ == "2.1.0"' 2>/dev/null; then
  log "mmcv 2.1.0 with ops already installed"
else
  mmcv_t0=$(date +%s)
  log "installing $(pin mmcv) with ops (wheel if found in find-links, else compiling: ~19 min)"
  pipi "$(pin mmengine)"
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} pipi --no-build-isolation "$(pin mmcv)" "$(pin torch)" "$(pin numpy)"
  log "mmcv installed in $(( $(date +%s) - mmcv_t0 )) s"
fi

# 5. The rest of the stack, with torch/numpy/setuptools pinned again so nothing moves them.
log "installing the OpenMMLab, nuScenes, spconv, open3d and imagecorruptions pins"
pipi $(grep -vE '^\s*(#|$)' "$PINS")
pipi --no-deps --no-build-isolation -e .

# 6. Check the stack imports together.
"$PY" - <<'PYCHECK'
import warnings
warnings.simplefilter('ignore')
import torch, numpy, mmcv, mmcv.ops, mmdet, mmdet3d, mmengine, nuscenes, spconv.pytorch, open3d
import fusion_moe
print(f'  torch {torch.__version__}, numpy {numpy.__version__}, mmcv {mmcv.__version__} (ops), '
      f'mmdet {mmdet.__version__}, mmdet3d {mmdet3d.__version__}, open3d {open3d.__version__}')
PYCHECK
rm -f "$VENV"/.fusion_moe_setup_*
touch "$stamp"
log "done: $VENV ready in $(( $(date +%s) - t0 )) s"
