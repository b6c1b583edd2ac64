"""Build of the Python package (pyproject.toml holds its metadata).

The extension synthpix._core (python/src/sp_python.c) is linked against libsynthpix.a, the
static library of the CMake build, so the C sources have one build: by default a private
CMake build in build_temp; with SYNTHPIX_BUILD_DIR=<dir>, an existing CMake build directory
(what `make test` uses). The build directory provides synthpix-link.txt: the static
library, then what it links against, one per line.
"""

import os
import re
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


def version() -> str:
    with open(os.path.join(ROOT, "include", "sp", "sp_api.h"), encoding="utf-8") as f:
        text = f.read()
    parts = [re.search(rf"#define SP_VERSION_{p} +(\d+)", text).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(parts)


class CMakeBuildExt(build_ext):
    """Builds libsynthpix.a with CMake, then the extension against it."""

    def run(self) -> None:
        build_dir = os.environ.get("SYNTHPIX_BUILD_DIR")
        if not build_dir:
            build_dir = os.path.join(os.path.abspath(self.build_temp), "cmake")
            jobs = str(os.cpu_count() or 2)
            subprocess.check_call(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                                   "-DSP_PYTHON_PACKAGE=OFF"])
            subprocess.check_call(["cmake", "--build", build_dir, "--target", "synthpix_static", "-j", jobs])
        with open(os.path.join(build_dir, "synthpix-link.txt"), encoding="utf-8") as f:
            link = [line.strip() for line in f if line.strip()]
        for ext in self.extensions:
            ext.extra_objects = [link[0]]
            ext.depends = ext.depends + [link[0]]
            ext.extra_link_args = link[1:] + ["-Wl,--exclude-libs,ALL"]
        super().run()


WARNINGS = ["-Wall", "-Wextra", "-Wshadow", "-Wmissing-prototypes", "-Wno-missing-field-initializers"]
if os.environ.get("SYNTHPIX_WERROR") == "1":
    WARNINGS.append("-Werror")

setup(
    version=version(),
    package_dir={"": "python"},
    packages=["synthpix", "synthpix.checkpoint"],
    package_data={"synthpix": ["py.typed"]},
    ext_modules=[
        Extension(
            "synthpix._core",
            sources=["python/src/sp_python.c"],
            include_dirs=[os.path.join(ROOT, "include")],
            extra_compile_args=["-std=c11", "-fvisibility=hidden"] + WARNINGS,
        )
    ],
    cmdclass={"build_ext": CMakeBuildExt},
    # Not build/: that is the CMake build directory of `make`.
    options={"build": {"build_base": "build-python"}},
)
