"""One module per command group; `fangxin.cli` registers them."""
