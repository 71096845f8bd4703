"""(l-p) Task loops (Airflow 3.4): ``@task_group(...).loop(max_iterations=, until=)``.

Each iteration runs the group's tasks again: its XComs are the iteration's own, ``loop.previous``
reads the iteration before, the gate's ``LoopDecision`` reason is stored by the server as an XCom of
the gate, and a reader outside the loop receives every iteration's value of the terminal task as one
sequence. Readers return what they received, as every fidelity reader does.
"""

from datetime import timedelta

from airflow.sdk import LoopDecision, dag, task, task_group
from fidelity_common import received


def output_of(task_id):
    """The output of a task of a loop in the DAG being defined, for a reader outside the loop."""
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    return DagContext.get_current().get_task(task_id).output


@dag(dag_id="fidelity_loop_fixed", schedule=None)
def fidelity_loop_fixed():
    """(l) A fixed-count loop: a seed from outside, ``loop.previous`` inside, a reader outside."""

    @task
    def seed():
        return 1

    @task_group
    def grow(start):
        @task
        def double(start, *, loop):
            return (start if loop.index == 0 else loop.previous) * 2

        double(start)

    grow.partial(start=seed()).loop(max_iterations=3)

    @task
    def collect(values):
        return received(values, task_id="grow.double", loop="grow")

    collect(output_of("grow.double"))


def enough(*, loop):
    """Stop once the estimate is at least 30."""
    value = loop.result
    return LoopDecision(stop=value >= 30, reason=f"estimate {value}")


@dag(dag_id="fidelity_loop_until", schedule=None)
def fidelity_loop_until():
    """(m) A loop with ``until`` and a reason per decision; it stops on the third iteration."""

    @task_group
    def refine():
        @task
        def estimate(*, loop, ti=None):
            ti.xcom_push(key="iteration", value=loop.index)
            return (loop.previous or 0) + 10

        estimate()

    refine.loop(max_iterations=5, until=enough)


def never(*, loop):
    return LoopDecision(stop=False, reason=f"still going at {loop.index}")


@dag(dag_id="fidelity_loop_exhausted", schedule=None)
def fidelity_loop_exhausted():
    """(n) ``until`` never says stop: the gate fails at max_iterations, and the run with it."""

    @task_group
    def spin():
        @task
        def turn(*, loop):
            return {"turn": loop.index}

        turn()

    spin.loop(max_iterations=2, until=never)


@dag(dag_id="fidelity_loop_mapped", schedule=None)
def fidelity_loop_mapped():
    """(o) A loop whose terminal task is mapped, read inside (``loop.result``) and outside the loop."""

    @task_group
    def batch():
        @task
        def items(*, loop):
            return [loop.index, loop.index + 10]

        @task
        def square(x):
            return x * x

        square.expand(x=items())

    def seen_enough(*, loop):
        return sum(loop.result) > 100

    batch.loop(max_iterations=4, until=seen_enough)

    @task
    def collect(values):
        return received(values, task_id="batch.square", loop="batch")

    collect(output_of("batch.square"))


@dag(dag_id="fidelity_loop_retry", schedule=None)
def fidelity_loop_retry():
    """(p) A task of a loop fails its first attempt in iteration 1 and succeeds on the retry."""

    @task_group
    def steps():
        @task(retries=1, retry_delay=timedelta(0))
        def step(*, loop, ti=None):
            ti.xcom_push(key="attempt", value=ti.try_number)
            if loop.index == 1 and ti.try_number == 1:
                raise RuntimeError("iteration 1 fails its first attempt")
            return loop.index

        step()

    steps.loop(max_iterations=3)


fidelity_loop_fixed_dag = fidelity_loop_fixed()
fidelity_loop_until_dag = fidelity_loop_until()
fidelity_loop_exhausted_dag = fidelity_loop_exhausted()
fidelity_loop_mapped_dag = fidelity_loop_mapped()
fidelity_loop_retry_dag = fidelity_loop_retry()
