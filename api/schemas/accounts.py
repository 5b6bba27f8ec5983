"""Account and token schemas: what crosses the API (never a password hash)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from gis.access import Role


class Token(BaseModel):
    """An OAuth2 bearer token (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"access_token": "eyJhbGciOi…", "token_type": "bearer", "expires_in": 28800}
            ]
        }
    )


class AccountCreate(BaseModel):
    """A new account in the admin's own town; give the one area field the role needs."""

    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=256)
    role: Role
    display_name: str | None = Field(default=None, max_length=50)
    village_code: str | None = Field(default=None, pattern=r"^\d{12}$")
    department_code: str | None = Field(default=None, max_length=16)
    #: Strict: the staff member an inspector account acts for; "12" or 12.0 is refused, not
    #: guessed (the id decides which units the account may change).
    staff_id: StrictInt | None = Field(default=None, ge=1)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "chief-201",
                    "password": "a long passphrase",
                    "role": "grid_chief",
                    "display_name": "张网格长",
                    "village_code": "411003101201",
                }
            ]
        },
    )

    @model_validator(mode="after")
    def _area_matches_role(self) -> AccountCreate:
        needed = {
            Role.GRID_CHIEF: "village_code",
            Role.DEPARTMENT: "department_code",
            Role.INSPECTOR: "staff_id",
        }.get(self.role)
        for name in ("village_code", "department_code", "staff_id"):
            given = getattr(self, name) is not None
            if name == needed and not given:
                raise ValueError(f"role {self.role.value} needs {name}")
            if name != needed and given:
                raise ValueError(f"{name} does not apply to role {self.role.value}")
        return self


class AccountPublic(BaseModel):
    id: int
    username: str
    display_name: str | None
    role: Role
    role_label: str
    county_code: str | None
    town_code: str | None
    village_code: str | None
    department_code: str | None
    staff_id: int | None
    active: bool
    is_demo: bool
    locked_until: dt.datetime | None = Field(
        default=None, description="Sign-in locked until then after repeated failures (锁定至)."
    )
    created_at: dt.datetime


class AccountPage(BaseModel):
    items: list[AccountPublic]
    limit: int
    offset: int


class Me(AccountPublic):
    """The signed-in account and the data scope derived from it."""

    read_only: bool
    town_codes: list[str] | None
    village_codes: list[str] | None
    department_codes: list[str] | None
    token_expires_at: dt.datetime | None
