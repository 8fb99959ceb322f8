#!/usr/bin/env bash
# Fill scripts/gpu_check/wheels/ with the packages a GPU machine's python may lack for the GPU
# check (see missing.py): pure-Python wheels, an antlr4 runtime wheel built here, and PyYAML
# for CPython 3.10-3.13 on x86_64 and aarch64. Run it where a package registry answers; the GPU
# machine then needs no network (gpu_check.sh installs from the folder, --no-index).
set -euo pipefail
cd "$(dirname "$0")"
py=${PYTHON:-python3}
pip=("$py" -m pip --disable-pip-version-check)
# pip warns about every missing folder of an extra local index; those lines are noise.
exec 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
mkdir -p wheels
# hydra-core 1.3 needs omegaconf < 2.4; the project's pins are in pyproject.toml.
"${pip[@]}" download --quiet --no-deps --only-binary=:all: --python-version 3.10 -d wheels \
    'hydra-core>=1.3,<2' 'omegaconf>=2.3,<2.4' pytest pluggy iniconfig packaging pygments \
    exceptiongroup tomli
# omegaconf pins antlr4-python3-runtime 4.9, which is published only as a source archive.
"${pip[@]}" wheel --quiet --no-deps -w wheels 'antlr4-python3-runtime==4.9.*'
for version in 310 311 312 313; do
    for platform in manylinux2014_x86_64 manylinux2014_aarch64; do
        "${pip[@]}" download --quiet --no-deps --only-binary=:all: -d wheels \
            --implementation cp --python-version "$version" --abi "cp$version" \
            --platform "$platform" PyYAML
    done
done
ls wheels
