import pytest

from factgap.distributed import LAUNCHED_FLAG, accelerate_command, relaunch_with_accelerate, requested_gpus


def test_accelerate_command_uses_fsdp_over_all_gpus():
    cmd = accelerate_command("train.py", 4, python="py")
    assert cmd[:3] == ["py", "-m", "accelerate.commands.launch"]
    assert cmd[cmd.index("--num_processes") + 1] == "4" and "--use_fsdp" in cmd
    assert cmd[cmd.index("--fsdp_sharding_strategy") + 1] == "FULL_SHARD" and cmd[-1] == "train.py"
    with pytest.raises(ValueError):
        accelerate_command("train.py", 1)


def test_relaunch_only_with_several_gpus_and_only_once():
    calls = []
    relaunch_with_accelerate("s.py", 1, env={}, exec_fn=lambda *a: calls.append(a))
    relaunch_with_accelerate("s.py", 2, env={LAUNCHED_FLAG: "1"}, exec_fn=lambda *a: calls.append(a))
    assert calls == []
    relaunch_with_accelerate("s.py", 2, env={}, exec_fn=lambda *a: calls.append(a))
    program, argv, env = calls[0]
    assert argv[-1] == "s.py" and env[LAUNCHED_FLAG] == "1" and program == argv[0]


def test_requested_gpus_reads_rule_resources():
    assert requested_gpus({"gpu": 2}) == 2
    assert requested_gpus({"gpu": "4"}) == 4
    assert requested_gpus({}) == 0 and requested_gpus({"gpu": None}) == 0
