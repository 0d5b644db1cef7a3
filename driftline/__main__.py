from driftline.platform.cli import main

main()
