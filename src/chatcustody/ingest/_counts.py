"""What an import did: counts accumulated over batches and files."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BatchCounts:
    """What one or more batches did."""

    imported: int = 0
    duplicates: int = 0
    amendments: int = 0
    events: int = 0
    attachments: int = 0
    quarantined: int = 0
    variants: int = 0
    conversations: set[int] = field(default_factory=set)
    new_conversations: int = 0
    new_participants: int = 0

    def add(self, other: BatchCounts) -> None:
        """Accumulate another batch's counts."""
        self.imported += other.imported
        self.duplicates += other.duplicates
        self.amendments += other.amendments
        self.events += other.events
        self.attachments += other.attachments
        self.quarantined += other.quarantined
        self.variants += other.variants
        self.conversations |= other.conversations
        self.new_conversations += other.new_conversations
        self.new_participants += other.new_participants


__all__ = ["BatchCounts"]
