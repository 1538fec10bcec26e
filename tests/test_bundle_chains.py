"""Chains are catalogue data: loaded, checked against the catalogue, refused by name when wrong; stored bundles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.agencies.installed import load_registry
from gateway.agencies.plugin_manager import plugin_manager
from gateway.bundles.chains import Chain, load_chains, parse_chains
from gateway.catalogue.items import Catalogue
from gateway.errors import CatalogueError
from gateway.intake.request_ids import new_ulid
from gateway.store import BundleRecord, BundleStatus, Store
from tests.helpers import sample_settings


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    settings = sample_settings()
    return load_registry(plugin_manager(), settings, check_settings=False).catalogue


def chain_data(**step2: Any) -> dict[str, Any]:
    second = {"item": "social_security.employer-registration"} | step2
    return {
        "chains": [
            {
                "code": "c",
                "name_zh": "链",
                "name_en": "Chain",
                "description_zh": "说明",
                "description_en": "About",
                "steps": [{"item": "tax.business-registration"}, second],
            }
        ]
    }


def test_the_districts_chains_load_against_the_sample_catalogue(catalogue: Catalogue) -> None:
    chains, left_out = load_chains(catalogue)
    assert set(chains) == {"new-business", "newborn"} and left_out == []
    assert chains["newborn"].steps[1].fed() == {"holder_id_number", "holder_name", "medical_insurance_no"}


@pytest.mark.parametrize(
    ("inputs", "named"),
    [
        ([{"material": "no_such", "from_step": 1, "field": "content.x"}], "has no material 'no_such'"),
        ([{"material": "tax_registration_no", "from_step": 2, "field": "content.x"}], "must be an earlier step"),
        ([{"material": "tax_registration_no", "from_step": 1, "field": "result.x"}], ".field"),
        ([{"material": "tax_registration_no", "from_step": 1, "field": "materials.nope"}], "no material 'nope'"),
        ([{"material": "tax_registration_no", "from_step": 1}], "an input is"),
    ],
)
def test_a_wrong_input_mapping_is_refused_naming_the_chain_and_the_place(
    catalogue: Catalogue, inputs: list[dict[str, Any]], named: str
) -> None:
    with pytest.raises(CatalogueError, match="chain 'c'") as refused:
        parse_chains(chain_data(inputs=inputs), catalogue, source="chains.toml")
    assert named in str(refused.value)


def test_a_chain_whose_items_are_not_installed_is_left_out_not_offered(catalogue: Catalogue) -> None:
    data = chain_data()
    data["chains"][0]["steps"][1]["item"] = "civil_affairs.marriage-registration"
    chains, left_out = parse_chains(data, catalogue, source="chains.toml")
    assert chains == [] and "civil_affairs.marriage-registration" in left_out[0]
    with pytest.raises(CatalogueError, match="two steps or more"):
        parse_chains({"chains": [{**chain_data()["chains"][0], "steps": [{"item": "tax.business-registration"}]}]},
                     catalogue, source="chains.toml")  # fmt: skip


def test_parsed_chains_carry_their_mappings(catalogue: Catalogue) -> None:
    feed = [{"material": "tax_registration_no", "from_step": 1, "field": "content.registration_no"}]
    (chain,), _ = parse_chains(chain_data(inputs=feed), catalogue, source="chains.toml")
    assert isinstance(chain, Chain) and chain.items() == [
        "tax.business-registration",
        "social_security.employer-registration",
    ]
    assert chain.steps[1].inputs[0].from_step == 1


async def test_a_bundle_round_trips_and_its_steps_lead_back_to_it(store: Store) -> None:
    now = datetime.now(UTC)
    steps = [{"item": "tax.business-registration", "request_id": new_ulid()}, {"item": "x.y", "request_id": new_ulid()}]
    record = BundleRecord(
        id=new_ulid(), caller_id="fangzhen-window", chain="new-business", office="370303105000",
        operator="fz-01", channel="window", status=BundleStatus.RUNNING, body={"applicant": {"name": "张伟"}},
        steps=steps, created_at=now, updated_at=now,
    )  # fmt: skip
    assert await store.insert_bundle(record) is True
    assert await store.insert_bundle(record) is False
    got = await store.get_bundle(record.id)
    assert got is not None and got.steps == steps and got.body == record.body and got.created_at == now
    assert await store.bundle_of_request(steps[1]["request_id"]) == record.id
    assert await store.bundle_of_request(new_ulid()) is None
    assert await store.update_bundle(record.id, expect=(BundleStatus.WAITING,), status=BundleStatus.STOPPED) is False
    assert await store.update_bundle(
        record.id, expect=(BundleStatus.RUNNING,), status=BundleStatus.COMPLETED, receipt={"seal": {}}, finished_at=now
    )
    done = await store.get_bundle(record.id)
    assert done is not None and done.status is BundleStatus.COMPLETED and done.receipt == {"seal": {}}
    assert [b.id for b in await store.list_bundles(statuses=(BundleStatus.COMPLETED,))] == [record.id]
    assert await store.list_bundles(statuses=(BundleStatus.RUNNING, BundleStatus.WAITING)) == []
    with pytest.raises(ValueError, match="cannot update"):
        await store.update_bundle(record.id, chain="other")


async def test_the_retention_purge_removes_a_completed_bundles_personal_data_but_not_a_stopped_ones(
    store: Store,
) -> None:
    now = datetime.now(UTC)
    body = {"applicant": {"name": "张伟", "id_number": "370303199001011239"}, "steps": {}}

    def bundle(status: BundleStatus) -> BundleRecord:
        return BundleRecord(
            id=new_ulid(), caller_id="fangzhen-window", chain="newborn", office="370303105000", operator="fz-01",
            channel="window", status=status, body=body, steps=[{"item": "a.b", "request_id": new_ulid()}],
            created_at=now, updated_at=now, receipt={"applicant": body["applicant"]}, finished_at=now,
        )  # fmt: skip

    done, stopped = bundle(BundleStatus.COMPLETED), bundle(BundleStatus.STOPPED)
    for record in (done, stopped):
        assert await store.insert_bundle(record)
    await store.purge_finished(now.replace(year=now.year + 1), now=now, limit=10)
    purged, kept = await store.get_bundle(done.id), await store.get_bundle(stopped.id)
    assert purged is not None and purged.body == {"purged": True} and purged.receipt is None
    assert kept is not None and kept.body == body


def test_onewindow_catalog_chains_lists_each_chain_with_what_feeds_each_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gateway.cli.main import main

    assert main(["catalog", "chains"]) == 0
    out = capsys.readouterr().out
    assert "new-business  开办企业一链办理" in out
    assert "tax_registration_no <- step 1 content.registration_no" in out


def test_a_district_declares_its_own_chains_file_and_a_wrong_one_is_refused_naming_the_key(
    catalogue: Catalogue, tmp_path
) -> None:
    from gateway.config import ConfigError, load_settings
    from gateway.startup import district_chains

    own = tmp_path / "chains.toml"
    own.write_text(
        '[[chains]]\ncode = "c"\nname_zh = "链"\nname_en = "Chain"\ndescription_zh = "说明"\ndescription_en = "About"\n'
        '[[chains.steps]]\nitem = "tax.business-registration"\n'
        '[[chains.steps]]\nitem = "social_security.employer-registration"\n'
        'inputs = [{ material = "tax_registration_no", from_step = 1, field = "content.registration_no" }]\n',
        encoding="utf-8",
    )
    settings = load_settings(environ={"ONEWINDOW_BUNDLES__CHAINS_FILE": str(own)})
    chains, _ = district_chains(settings, catalogue)
    assert set(chains) == {"c"}
    own.write_text(own.read_text(encoding="utf-8").replace("tax_registration_no", "tax_no"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bundles\.chains_file: .*has no material 'tax_no'"):
        district_chains(settings, catalogue)
    assert set(district_chains(load_settings(environ={}), catalogue)[0]) == {"new-business", "newborn"}
