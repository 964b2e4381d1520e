from drove_tui.cli import main

raise SystemExit(main())
