"""Nodes from node-exporter: one node in detail, and the USE method (utilisation, saturation, errors)
across the cluster. `instance` is the node's name (the ServiceMonitor relabels it)."""
from __future__ import annotations

from stackgen.dashboards.panels import CLUSTER, NODES, Board, Row, Variable, link_to, prom, stat, timeseries

NE = f'{CLUSTER}, job="node-exporter"'
ONE = f'{NE}, instance="$instance"'
FS = 'fstype!~"tmpfs|overlay|squashfs", mountpoint!~"/run.*"'
TAGS = ("nodes",)
IDLE, NOT_IDLE, NOT_LOOPBACK = 'mode="idle"', 'mode!="idle"', 'device!="lo"'


def _rate(metric: str, selector: str, extra: str = "") -> str:
    return f"rate({metric}{{{selector}{', ' + extra if extra else ''}}}[$__rate_interval])"


def node() -> Board:
    return Board(
        "nodes", "Nodes / Node", NODES,
        "One node from node-exporter: CPU, memory, disk, filesystems, network, clock and pressure.",
        [
            stat("Uptime", "Time since the node booted.", prom(f"time() - node_boot_time_seconds{{{ONE}}}"),
                 unit="s", width=6),
            stat("CPU cores", "Logical CPUs of the node.",
                 prom(f'count(node_cpu_seconds_total{{{ONE}, mode="idle"}})'), width=6),
            stat("Memory", "Physical memory of the node.", prom(f"node_memory_MemTotal_bytes{{{ONE}}}"),
                 unit="bytes", width=6),
            stat("Clock offset", "Offset of the node's clock from its time source (NTP/chrony).",
                 prom(f"node_timex_offset_seconds{{{ONE}}}"), unit="s", width=6),
            Row("CPU and memory"),
            timeseries("CPU by mode", "Share of the node's CPU time per mode (idle left out).",
                       prom(f'sum by (mode) ({_rate("node_cpu_seconds_total", ONE, NOT_IDLE)}) / '
                            f'scalar(count(node_cpu_seconds_total{{{ONE}, mode="idle"}}))', "{{mode}}"),
                       unit="percentunit", stack=True),
            timeseries("Load average", "1, 5 and 15 minute load averages against the number of CPUs.",
                       prom(f"node_load1{{{ONE}}}", "1m"), prom(f"node_load5{{{ONE}}}", "5m"),
                       prom(f"node_load15{{{ONE}}}", "15m"),
                       prom(f'count(node_cpu_seconds_total{{{ONE}, mode="idle"}})', "CPUs")),
            timeseries("Memory", "Used, buffers and cache, and what is available to new processes.",
                       prom(f"node_memory_MemTotal_bytes{{{ONE}}} - node_memory_MemAvailable_bytes{{{ONE}}}", "used"),
                       prom(f"node_memory_Buffers_bytes{{{ONE}}}", "buffers"),
                       prom(f"node_memory_Cached_bytes{{{ONE}}}", "cached"),
                       prom(f"node_memory_MemAvailable_bytes{{{ONE}}}", "available"), unit="bytes"),
            timeseries("Pressure", "Share of time tasks waited for CPU, memory or I/O (PSI).",
                       prom(_rate("node_pressure_cpu_waiting_seconds_total", ONE), "cpu"),
                       prom(_rate("node_pressure_memory_waiting_seconds_total", ONE), "memory"),
                       prom(_rate("node_pressure_io_waiting_seconds_total", ONE), "io"), unit="percentunit"),
            Row("Disk and filesystems"),
            timeseries("Disk I/O time", "Share of time each disk was busy.",
                       prom(_rate("node_disk_io_time_seconds_total", ONE), "{{device}}"), unit="percentunit"),
            timeseries("Disk throughput", "Bytes read and written per second, per disk.",
                       prom(_rate("node_disk_read_bytes_total", ONE), "{{device}} read"),
                       prom(_rate("node_disk_written_bytes_total", ONE), "{{device}} written"), unit="Bps"),
            timeseries("Filesystem space used", "Share of each filesystem in use.",
                       prom(f"1 - node_filesystem_avail_bytes{{{ONE}, {FS}}} / node_filesystem_size_bytes{{{ONE}, {FS}}}",
                            "{{mountpoint}}"), unit="percentunit"),
            timeseries("Inodes used", "Share of each filesystem's inodes in use.",
                       prom(f"1 - node_filesystem_files_free{{{ONE}, {FS}}} / node_filesystem_files{{{ONE}, {FS}}}",
                            "{{mountpoint}}"), unit="percentunit"),
            Row("Network"),
            timeseries("Network traffic", "Bytes received and sent per second, per interface.",
                       prom(_rate("node_network_receive_bytes_total", ONE, 'device!="lo"'), "{{device}} in"),
                       prom(_rate("node_network_transmit_bytes_total", ONE, 'device!="lo"'), "{{device}} out"),
                       unit="Bps"),
            timeseries("Network errors and drops", "Packets in error or dropped, per interface and direction.",
                       prom(_rate("node_network_receive_errs_total", ONE), "{{device}} receive errors"),
                       prom(_rate("node_network_transmit_errs_total", ONE), "{{device}} transmit errors"),
                       prom(_rate("node_network_receive_drop_total", ONE), "{{device}} receive drops"),
                       prom(_rate("node_network_transmit_drop_total", ONE), "{{device}} transmit drops"), unit="pps"),
            timeseries("Conntrack table", "Connection-tracking entries against the table's limit.",
                       prom(f"node_nf_conntrack_entries{{{ONE}}} / node_nf_conntrack_entries_limit{{{ONE}}}", "used"),
                       unit="percentunit", width=24),
        ],
        [Variable("instance", "Node", f"label_values(node_uname_info{{{NE}}}, instance)", "")],
        links=["nodes-use", "k8s-node-pods"], tags=TAGS)


def use_method() -> Board:
    cpus = f'count by (instance) (node_cpu_seconds_total{{{NE}, mode="idle"}})'
    return Board(
        "nodes-use", "Nodes / USE method (cluster)", NODES,
        "Utilisation, saturation and errors of every node's CPU, memory, disk and network side by side.",
        [
            Row("CPU"),
            timeseries("CPU utilisation", "Share of each node's CPU time not idle.",
                       prom(f'1 - avg by (instance) ({_rate("node_cpu_seconds_total", NE, IDLE)})',
                            "{{instance}}"), unit="percentunit",
                       links=[("Node", link_to("nodes", instance="${__field.labels.instance}"))]),
            timeseries("CPU saturation", "Load average per CPU: above 1 tasks wait for a CPU.",
                       prom(f"node_load1{{{NE}}} / on (instance) {cpus}", "{{instance}}"), unit="short"),
            Row("Memory"),
            timeseries("Memory utilisation", "Share of each node's memory not available.",
                       prom(f"1 - node_memory_MemAvailable_bytes{{{NE}}} / node_memory_MemTotal_bytes{{{NE}}}",
                            "{{instance}}"), unit="percentunit"),
            timeseries("Memory saturation", "Major page faults per second: memory is being paged back in.",
                       prom(_rate("node_vmstat_pgmajfault", NE), "{{instance}}"), unit="short"),
            Row("Disk"),
            timeseries("Disk utilisation", "Share of time each node's disks were busy.",
                       prom(f'avg by (instance) ({_rate("node_disk_io_time_seconds_total", NE)})', "{{instance}}"),
                       unit="percentunit"),
            timeseries("Disk saturation", "Weighted I/O time: the average number of requests waiting.",
                       prom(f'sum by (instance) ({_rate("node_disk_io_time_weighted_seconds_total", NE)})',
                            "{{instance}}"), unit="short"),
            Row("Network"),
            timeseries("Network utilisation", "Bytes received and sent per second by each node (loopback left out).",
                       prom(f'sum by (instance) ({_rate("node_network_receive_bytes_total", NE, NOT_LOOPBACK)})',
                            "{{instance}} in"),
                       prom(f'sum by (instance) ({_rate("node_network_transmit_bytes_total", NE, NOT_LOOPBACK)})',
                            "{{instance}} out"), unit="Bps"),
            timeseries("Network errors", "Packets dropped or in error per second on each node.",
                       prom(f'sum by (instance) ({_rate("node_network_receive_drop_total", NE)} + '
                            f'{_rate("node_network_transmit_drop_total", NE)} + {_rate("node_network_receive_errs_total", NE)}'
                            f' + {_rate("node_network_transmit_errs_total", NE)})', "{{instance}}"), unit="pps"),
        ],
        links=["nodes", "k8s-cluster"], tags=TAGS)


def boards(stack) -> list[Board]:
    return [node(), use_method()]
