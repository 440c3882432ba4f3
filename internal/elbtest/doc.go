// Package elbtest holds what the tests of several elb packages share.
package elbtest
