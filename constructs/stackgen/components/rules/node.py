"""Node alerts from node-exporter (v1.10): filesystems, memory, network, clock, CPU, disks, reboots.

Node-exporter's targets carry `instance` and `node` (the node's name), so KubeNodeNotReady inhibits
them. Filesystems that are read-only by design (Bottlerocket's root on EKS Auto Mode) are left out of
the space alerts and only a filesystem that was writable and turned read-only alerts. No systemd alert:
the systemd collector is not enabled (EKS Auto Mode nodes are not ours to manage units on).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from stackgen.lib.alerts import Alert, Record

if TYPE_CHECKING:
    from stackgen.config import StackConfig

FS = 'fstype!="", mountpoint!=""'
WRITABLE = f"node_filesystem_readonly{{{FS}}} == 0"
MOUNT = "{{ $labels.mountpoint }} on {{ $labels.instance }}"
# Pod interfaces of the VPC CNI (eni*) and veths come and go with pods: not the node's network.
NIC = 'device!~"lo|veth.+|eni.+|cali.+|lxc.+"'


def _records() -> list:
    return [
        Record("instance:node_num_cpu:sum", 'count without (cpu, mode) (node_cpu_seconds_total{mode="idle"})'),
        Record("instance:node_cpu_utilisation:rate5m",
               '1 - avg without (cpu) (sum without (mode) (rate(node_cpu_seconds_total{mode=~"idle|iowait|steal"}[5m])))'),
        Record("instance:node_load1_per_cpu:ratio", "node_load1 / instance:node_num_cpu:sum"),
        Record("instance:node_memory_utilisation:ratio",
               "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"),
        Record("instance_device:node_disk_io_time_weighted_seconds:rate5m",
               "rate(node_disk_io_time_weighted_seconds_total[5m])"),
    ]


def _filesystems() -> list:
    space = f"node_filesystem_avail_bytes{{{FS}}} / node_filesystem_size_bytes{{{FS}}}"
    files = f"node_filesystem_files_free{{{FS}}} / node_filesystem_files{{{FS}}}"
    return [
        Alert("NodeFilesystemFillingUp", f"{space} < $threshold and {WRITABLE}", "warning",
              f"Filesystem {MOUNT} is {{{{ $value | humanizePercentage }}}} free",
              f"Filesystem {MOUNT} has {{{{ $value | humanizePercentage }}}} of its space left (threshold $threshold).",
              "15m", 0.15, "ratio"),
        Alert("NodeFilesystemSpaceFillingUp",
              f"{space} < 0.4 and predict_linear(node_filesystem_avail_bytes{{{FS}}}[6h], $threshold * 3600) < 0 "
              f"and {WRITABLE}", "warning", f"Filesystem {MOUNT} will fill up within $threshold",
              f"Filesystem {MOUNT} has {{{{ $value | humanizePercentage }}}} free and, at the rate of the last 6 "
              "hours, will be full within $threshold.", "1h", 4, "hours"),
        Alert("NodeFilesystemAlmostOutOfSpace", f"{space} < $threshold and {WRITABLE}", "critical",
              f"Filesystem {MOUNT} is almost full",
              f"Filesystem {MOUNT} has {{{{ $value | humanizePercentage }}}} of its space left (threshold "
              "$threshold): writes, image pulls and logs are about to fail.", "30m", 0.05, "ratio"),
        Alert("NodeFilesystemFilesFillingUp",
              f"{files} < 0.4 and predict_linear(node_filesystem_files_free{{{FS}}}[6h], $threshold * 3600) < 0 "
              f"and {WRITABLE}", "warning", f"Filesystem {MOUNT} will run out of inodes within $threshold",
              f"Filesystem {MOUNT} has {{{{ $value | humanizePercentage }}}} of its inodes free and will run out "
              "within $threshold at the rate of the last 6 hours.", "1h", 4, "hours"),
        Alert("NodeFilesystemAlmostOutOfFiles", f"{files} < $threshold and {WRITABLE}", "critical",
              f"Filesystem {MOUNT} is almost out of inodes",
              f"Filesystem {MOUNT} has {{{{ $value | humanizePercentage }}}} of its inodes left (threshold "
              "$threshold): creating files is about to fail.", "30m", 0.03, "ratio"),
        Alert("NodeFilesystemReadOnlyRemount",
              f"node_filesystem_readonly{{{FS}}} > min_over_time(node_filesystem_readonly{{{FS}}}[1d])", "critical",
              f"Filesystem {MOUNT} was remounted read-only",
              f"Filesystem {MOUNT} ({{{{ $labels.device }}}}) was writable within the last day and is read-only now "
              "(readonly={{ $value }}): the kernel remounts on I/O errors.", "0m"),
        Alert("NodeFilesystemDeviceError", f"node_filesystem_device_error{{{FS}}} == 1", "warning",
              f"Filesystem {MOUNT} cannot be read",
              f"node-exporter cannot stat filesystem {MOUNT} ({{{{ $labels.device }}}}, device_error={{{{ $value }}}}).",
              "15m"),
    ]


def _memory_and_cpu(stack: StackConfig) -> list:
    t = stack.alerting.thresholds
    return [
        Alert("NodeMemoryHigh", "instance:node_memory_utilisation:ratio > $threshold", "warning",
              "Node {{ $labels.instance }} memory is nearly used up",
              "{{ $value | humanizePercentage }} of the memory of {{ $labels.instance }} is in use (threshold "
              "$threshold).", "15m", t.memory, "ratio"),
        Alert("NodeMemoryMajorPagesFaults", "rate(node_vmstat_pgmajfault[5m]) > $threshold", "warning",
              "Node {{ $labels.instance }} faults {{ $value | humanize }} major pages per second",
              "{{ $labels.instance }} reads {{ $value | humanize }} pages per second back from disk (threshold "
              "$threshold): memory is too small for its pods.", "15m", 500),
        Alert("NodeMemoryPressure", "rate(node_pressure_memory_waiting_seconds_total[5m]) > $threshold", "warning",
              "Tasks on {{ $labels.instance }} wait for memory {{ $value | humanizePercentage }} of the time",
              "Pressure stall information: some task on {{ $labels.instance }} waited for memory "
              "{{ $value | humanizePercentage }} of the last 5 minutes (threshold $threshold).", "15m", 0.1, "ratio"),
        Alert("NodeOOMKillDetected", "increase(node_vmstat_oom_kill[5m]) > 0", "warning",
              "The kernel of {{ $labels.instance }} killed processes for memory",
              "{{ $value | humanize }} processes on {{ $labels.instance }} were OOM-killed in 5 minutes.", "0m"),
        Alert("NodeHighLoad", "instance:node_load1_per_cpu:ratio > $threshold", "warning",
              "Node {{ $labels.instance }} load is {{ $value | humanize }} per CPU",
              "The 1-minute load average of {{ $labels.instance }} is {{ $value | humanize }} per CPU (threshold "
              "$threshold): processes queue for CPU or disk.", "15m", 2),
        Alert("NodeCPUHighUsage", "instance:node_cpu_utilisation:rate5m > $threshold", "info",
              "Node {{ $labels.instance }} CPU is {{ $value | humanizePercentage }} busy",
              "CPU use of {{ $labels.instance }} is {{ $value | humanizePercentage }} over 5 minutes (threshold "
              "$threshold).", "15m", 0.9, "ratio"),
        Alert("NodeFileDescriptorLimit", "node_filefd_allocated / node_filefd_maximum > $threshold", "warning",
              "Node {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its file descriptors",
              "{{ $labels.instance }} has allocated {{ $value | humanizePercentage }} of the kernel's file "
              "descriptors (threshold $threshold).", "15m", 0.7, "ratio"),
    ]


def _network_disk_clock() -> list:
    def errors(direction: str) -> Alert:
        title = direction.capitalize()
        return Alert(
            f"NodeNetwork{title}Errs", f"rate(node_network_{direction}_errs_total{{{NIC}}}[5m]) / "
            f"rate(node_network_{direction}_packets_total{{{NIC}}}[5m]) > $threshold", "warning",
            f"Interface {{{{ $labels.device }}}} of {{{{ $labels.instance }}}} has {direction} errors",
            f"{{{{ $value | humanizePercentage }}}} of the packets {direction}d on {{{{ $labels.device }}}} of "
            "{{ $labels.instance }} fail (threshold $threshold).", "1h", 0.01, "ratio")
    return [
        errors("receive"), errors("transmit"),
        Alert("NodeConntrackTableFilling", "node_nf_conntrack_entries / node_nf_conntrack_entries_limit > $threshold",
              "warning", "Connection tracking of {{ $labels.instance }} is {{ $value | humanizePercentage }} full",
              "{{ $labels.instance }} tracks {{ $value | humanizePercentage }} of the connections it can (threshold "
              "$threshold); when full, new connections are dropped.", "15m", 0.75, "ratio"),
        Alert("NodeNetworkInterfaceFlapping", f"changes(node_network_up{{{NIC}}}[5m]) > $threshold", "warning",
              "Interface {{ $labels.device }} of {{ $labels.instance }} goes up and down",
              "{{ $labels.device }} of {{ $labels.instance }} changed state {{ $value }} times in 5 minutes "
              "(threshold $threshold).", "5m", 2),
        Alert("NodeDiskIOSaturation", "instance_device:node_disk_io_time_weighted_seconds:rate5m > $threshold",
              "warning", "Disk {{ $labels.device }} of {{ $labels.instance }} is saturated",
              "{{ $labels.device }} of {{ $labels.instance }} has {{ $value | humanize }} I/O requests queued on "
              "average (threshold $threshold): reads and writes wait.", "30m", 10),
        Alert("NodeClockSkew", "abs(node_timex_offset_seconds) > $threshold", "warning",
              "Clock of {{ $labels.instance }} is off by {{ $value }}s",
              "The clock of {{ $labels.instance }} is {{ $value }}s off (threshold $threshold); TLS, tokens and "
              "timestamps of audit logs suffer.", "10m", 0.05, "seconds"),
        Alert("NodeClockNotSynchronising",
              "min_over_time(node_timex_sync_status[5m]) == 0 and node_timex_maxerror_seconds >= 16", "warning",
              "Clock of {{ $labels.instance }} is not synchronising",
              "NTP (chrony with the Amazon Time Sync Service) does not synchronise {{ $labels.instance }} "
              "(sync_status={{ $value }}, maximum error 16s or more).", "10m"),
        Alert("NodeRebooted", "changes(node_boot_time_seconds[30m]) > 0", "info",
              "Node {{ $labels.instance }} rebooted",
              "The boot time of {{ $labels.instance }} changed {{ $value }} time(s) in 30 minutes: the node "
              "restarted (kernel panic, maintenance or an update).", "0m"),
    ]


def groups(stack: StackConfig) -> dict[str, list]:
    return {"node": [*_records(), *_filesystems(), *_memory_and_cpu(stack), *_network_disk_clock()]}
