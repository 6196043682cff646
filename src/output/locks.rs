//! How locks look in the CLI: `locks list|remove`.

use std::io::{self, Write};

use comfy_table::Table;

use super::{Column, Show, Style, table, timestamp, user_ref, vertical};
use crate::api::locks::Lock;

impl Show for Lock {
    const COLUMNS: &'static [Column] = &[
        Column::whole("ID"),
        Column::free("USER"),
        Column::free("REASON"),
        Column::whole("CREATED"),
        Column::free("CREATED BY"),
    ];

    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            user_ref(&self.user),
            self.reason.clone(),
            timestamp(self.created_at),
            self.created_by.clone(),
        ]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        table(out, lock_table(self, style))
    }
}

fn lock_table(lock: &Lock, style: Style) -> Table {
    vertical(
        vec![
            ("ID", lock.id.clone()),
            ("User", user_ref(&lock.user)),
            ("User ID", lock.user.id.clone()),
            ("Reason", lock.reason.clone()),
            ("Created", timestamp(lock.created_at)),
            ("Created by", lock.created_by.clone()),
        ],
        style,
    )
}
