"""Build hook: the viewer's npm packages (``node_modules``) go into the package, never into git.

``build_py`` copies OpenSeadragon's build into ``src/ziggurat/server/static/vendor`` (git-ignored)
before the package data is collected, so a wheel built from a checkout after ``npm install`` serves
a working viewer; ``scripts/setup`` does the same copy for editable installs.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
VENDOR = ROOT / "src" / "ziggurat" / "server" / "static" / "vendor"
#: vendored name -> (folder inside node_modules, a file that proves it is built)
PACKAGES = {"openseadragon": ("openseadragon/build/openseadragon", "openseadragon.min.js")}


def copy_vendor() -> None:
    for name, (folder, marker) in PACKAGES.items():
        source = ROOT / "node_modules" / folder
        if (source / marker).is_file():
            shutil.copytree(source, VENDOR / name, dirs_exist_ok=True)


class BuildPy(build_py):
    def run(self) -> None:
        copy_vendor()
        super().run()


if __name__ == "__main__":  # how setuptools' build backend runs this file
    setup(cmdclass={"build_py": BuildPy})
