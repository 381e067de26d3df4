from tinyctl.cli import main

main()
