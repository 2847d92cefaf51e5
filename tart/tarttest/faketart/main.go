// Command faketart is a fake `tart` executable for process-level tests: its
// state is a directory ($FAKETART_STATE) and it prints exactly what the tart
// version in $FAKETART_VERSION prints. Tests get it with
// tarttest.BuildExecutable; all logic is in tarttest.Run.
package main

import "github.com/vmfleet/vmfleet/tart/tarttest"

func main() { tarttest.Main() }
