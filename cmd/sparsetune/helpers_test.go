package main

import "github.com/sparsetune/sparsetune/train"

func defaultForTest() train.Config { return train.DefaultConfig() }
