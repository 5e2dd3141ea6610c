from xdpfw.cli import main

raise SystemExit(main())
