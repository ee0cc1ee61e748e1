# SPDX-License-Identifier: Apache-2.0
"""Builds blazen._native with the project's CMake for `pip install --no-build-isolation .`.

The extension is configured with -DBLAZEN_BUILD_PYTHON=ON (tests, examples and benchmarks off)
in a build directory under setuptools' build_temp (in build-pip/), or in $BLAZEN_BUILD_DIR when
set (an existing build tree then only needs the module relinked), and only the `blazen_python`
target is built.
$BLAZEN_BUILD_JOBS sets the parallelism (default: all cores); $BLAZEN_CMAKE_ARGS adds arguments.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        build_dir = Path(os.environ.get("BLAZEN_BUILD_DIR") or
                         Path(self.build_temp).resolve() / "cmake")
        build_dir.mkdir(parents=True, exist_ok=True)
        cache = build_dir / "CMakeCache.txt"
        configure = ["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DBLAZEN_BUILD_PYTHON=ON"]
        if not cache.exists():
            # A reused build tree keeps its interpreter (a venv may not outlive the tree).
            configure += [
                f"-DPython3_EXECUTABLE={sys.executable}", "-DCMAKE_BUILD_TYPE=Release", "-DBLAZEN_BUILD_TESTS=OFF",
                "-DBLAZEN_BUILD_EXAMPLES=OFF", "-DBLAZEN_BUILD_BENCHMARKS=OFF",
            ]
            if shutil.which("ninja"):
                configure += ["-G", "Ninja"]
        configure += shlex.split(os.environ.get("BLAZEN_CMAKE_ARGS", ""))
        subprocess.run(configure, check=True)
        jobs = os.environ.get("BLAZEN_BUILD_JOBS", str(os.cpu_count() or 1))
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "blazen_python", "-j",
                        jobs], check=True)
        built = next((build_dir / "python" / "blazen").glob("_native*.so"), None)
        if built is None:
            raise RuntimeError(f"cmake did not produce blazen/_native*.so in {build_dir}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target)


# setuptools' own build folder is build-pip/: build/ belongs to the project's CMake build.
setup(
    ext_modules=[CMakeExtension("blazen._native")],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": "build-pip"}},
)
