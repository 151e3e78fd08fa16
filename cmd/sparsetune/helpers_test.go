package main

import "github.com/sparsetune/sparsetune/coreset"

func defaultForTest() coreset.Config { return coreset.DefaultConfig() }
