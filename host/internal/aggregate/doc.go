// Package aggregate combines the results of the agents a pattern gave one
// task to into one outcome: all of them (Parallel), the most confident
// (Best), the weighted majority (Consensus) or the end of a chain
// (Sequential). The functions are pure, so the pattern runner decides how
// agents run and this package only decides what their answers add up to.
package aggregate
