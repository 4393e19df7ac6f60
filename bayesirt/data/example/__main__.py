"""Write the example leaderboard: ``python -m bayesirt.data.example [DIRECTORY]``."""

import argparse

from bayesirt.data.example import EXAMPLE_DIR, write_example

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("directory", nargs="?", default=EXAMPLE_DIR, help="default: %(default)s")
for path in write_example(parser.parse_args().directory):
    print(path)
