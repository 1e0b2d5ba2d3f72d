"""`flask --app wsgi keys rotate`: re-encrypt every TOTP secret under the newest key."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlmodel import select
from tqdm import tqdm

from webapp.crypto import reencrypt_secret
from webapp.extensions import db
from webapp.models import TotpCredential

keys_cli = AppGroup("keys", help="Encryption keys of the TOTP secrets.")

BATCH_SIZE = 500


@keys_cli.command("rotate")
def rotate() -> None:
    """Re-encrypt every secret under the first key of MFA_ENCRYPTION_KEYS.

    Any listed key may decrypt, so this is safe to stop and run again; remove
    an old key from MFA_ENCRYPTION_KEYS only after a run has finished.
    """
    session = db.session
    ids = session.exec(select(TotpCredential.id).order_by(TotpCredential.id)).all()
    with tqdm(total=len(ids), unit="secret", disable=None) as progress:
        for start in range(0, len(ids), BATCH_SIZE):
            batch = ids[start : start + BATCH_SIZE]
            rows = session.exec(select(TotpCredential).where(TotpCredential.id.in_(batch))).all()
            for row in rows:
                row.secret_encrypted = reencrypt_secret(row.secret_encrypted)
                session.add(row)
            # A batch per transaction: a run over every secret holds no long
            # lock, and one stopped half-way keeps what it did (runs again safely).
            session.commit()
            progress.update(len(batch))
    click.echo(f"Re-encrypted {len(ids)} secret(s) under the first key.")
