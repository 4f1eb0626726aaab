"""Reading how much memory the process can still take (for explain's guard)."""

from __future__ import annotations

import pytest

from sk_tabattn import _memory

GB = 10**9


@pytest.fixture
def system(tmp_path, monkeypatch):
    """A fake /proc/meminfo and cgroup tree, empty until a test writes them."""
    v2 = tmp_path / "cgroup"
    v1 = v2 / "memory"
    v1.mkdir(parents=True)
    monkeypatch.setattr(_memory, "MEMINFO", tmp_path / "meminfo")
    monkeypatch.setattr(_memory, "CGROUP_V2", v2)
    monkeypatch.setattr(_memory, "CGROUP_V1", v1)
    pages = {"SC_AVPHYS_PAGES": 3, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(_memory.os, "sysconf", pages.__getitem__)
    return tmp_path, v2, v1


def _meminfo(tmp_path, available_kb: int) -> None:
    (tmp_path / "meminfo").write_text(
        f"MemTotal: 99999999 kB\nMemFree: 100 kB\nMemAvailable: {available_kb} kB\n"
    )


def test_memavailable_then_the_free_pages(system, monkeypatch):
    # MemAvailable counts reclaimable page cache; the free pages do not.
    tmp_path, _, _ = system
    _meminfo(tmp_path, 2048)
    assert _memory.available_memory() == 2048 * 1024
    (tmp_path / "meminfo").unlink()
    assert _memory.available_memory() == 3 * 4096

    def no_such_name(name):
        raise ValueError("unrecognized configuration name")

    monkeypatch.setattr(_memory.os, "sysconf", no_such_name)
    assert _memory.available_memory() is None


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_a_containers_limit_caps_the_machines_memory(system, version):
    # In a container MemAvailable is the host's; the kernel kills at the limit.
    tmp_path, v2, v1 = system
    _meminfo(tmp_path, 20 * GB // 1024)
    if version == "v2":
        (v2 / "memory.max").write_text(f"{4 * GB}\n")
        (v2 / "memory.current").write_text(f"{3 * GB}\n")
        (v2 / "memory.stat").write_text(f"anon {2 * GB}\ninactive_file {GB // 2}\n")
    else:
        (v1 / "memory.limit_in_bytes").write_text(f"{4 * GB}\n")
        (v1 / "memory.usage_in_bytes").write_text(f"{3 * GB}\n")
        (v1 / "memory.stat").write_text(
            f"inactive_file 7\ntotal_inactive_file {GB // 2}\n"
        )
    # 1 GB under the limit, plus the page cache the kernel would drop first.
    assert _memory.available_memory() == GB + GB // 2
    # The machine's memory still counts when it is the smaller.
    _meminfo(tmp_path, GB // 1024)
    assert _memory.available_memory() == GB // 1024 * 1024


@pytest.mark.parametrize(
    ("file", "limit"),
    [("memory.max", "max"), ("memory/memory.limit_in_bytes", str(2**63 - 4096))],
    ids=["v2", "v1"],
)
def test_a_cgroup_without_a_limit_leaves_the_machines_memory(system, file, limit):
    tmp_path, v2, _ = system
    _meminfo(tmp_path, 2048)
    (v2 / file).write_text(limit + "\n")
    (v2 / file).with_name("memory.current").write_text("5\n")
    (v2 / file).with_name("memory.usage_in_bytes").write_text("5\n")
    assert _memory.available_memory() == 2048 * 1024


def test_an_unreadable_usage_leaves_the_machines_memory(system):
    tmp_path, v2, _ = system
    _meminfo(tmp_path, 2048)
    (v2 / "memory.max").write_text(f"{GB}\n")  # no memory.current
    assert _memory.available_memory() == 2048 * 1024


def test_available_memory_on_this_machine():
    available = _memory.available_memory()
    assert available is None or (isinstance(available, int) and available > 0)


@pytest.mark.parametrize(
    ("n", "text"),
    [(15, "15 bytes"), (15_000, "15.0 kB"), (8 * GB, "8.0 GB"), (3_200 * GB, "3.2 TB")],
)
def test_format_bytes(n, text):
    assert _memory.format_bytes(n) == text
