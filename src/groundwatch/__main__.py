from groundwatch.entry import main

main()
