"""One module per published table/figure, so editing one figure reruns that figure's job only."""
