#!/bin/bash
# dom0 side of bench.sh's network part (run.sh --dom0-script): an iperf3 server on 10.0.0.1.
exec iperf3 -s -p 5201
