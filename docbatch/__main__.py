"""`python -m docbatch` runs the CLI."""

from docbatch.cli.app import main

if __name__ == "__main__":
    main()
