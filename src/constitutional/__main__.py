from constitutional.cli.app import main

main()
