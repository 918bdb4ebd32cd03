"""The platform configuration check shared by the manifests' tests and the stand-in."""

from __future__ import annotations

import pytest

from aideon_resilience.core.config.platform import platform_config
from aideon_resilience.errors import UsageError

GOOD = {"ENVIRONMENT": "development", "LOG_LEVEL": "debug", "FEATURE_FLAGS": "streaming-responses, model-routing"}


def test_a_valid_configuration_is_read() -> None:
    config = platform_config(GOOD, "x")
    assert (config.environment, config.log_level) == ("development", "debug")
    assert config.feature_flags == ("streaming-responses", "model-routing")
    assert platform_config({**GOOD, "FEATURE_FLAGS": ""}, "x").feature_flags == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ENVIRONMENT": None}, "cm.yaml: ENVIRONMENT: missing"),
        ({"ENVIRONMENT": "prod"}, "cm.yaml: ENVIRONMENT: 'prod' is not one of development, staging, production, local"),
        ({"LOG_LEVEL": "verbose"}, "cm.yaml: LOG_LEVEL: 'verbose' is not one of debug, info, warning, error"),
        ({"FEATURE_FLAGS": "Model_Routing"}, "cm.yaml: FEATURE_FLAGS: 'Model_Routing' is not a flag name"),
        ({"FEATURE_FLAGS": "a,,b"}, "cm.yaml: FEATURE_FLAGS: '' is not a flag name"),
        ({"FEATURE_FLAGS": "a,a"}, "cm.yaml: FEATURE_FLAGS: a flag is listed twice"),
    ],
)
def test_a_wrong_value_is_one_line_naming_the_source_and_key(change: dict[str, str | None], message: str) -> None:
    values = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(UsageError) as err:
        platform_config(values, "cm.yaml")
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)
