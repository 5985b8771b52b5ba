"""Running a figure's worker threads: start them all, wait for all, and raise the first real
error (a thread that fails aborts the shared barrier, so the others' BrokenBarrierError is noise)."""

import threading
from collections.abc import Callable


def threads_run(work: Callable[[int], None], errors: list[BaseException], count: int) -> None:
    threads = [threading.Thread(target=work, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        first = next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), None)
        raise RuntimeError(f"{len(errors)} of {count} threads failed") from first or errors[0]
