namespace Automations.Persistence.Retention;

/// <summary>
/// A table partitioned by range of <see cref="Column"/> (a timestamptz), with a default partition as a safety net, whose
/// partitions the owning service creates ahead and drops once every row in them is older than <see cref="Keep"/>.
/// </summary>
/// <param name="Name">Qualified name, <c>schema.table</c>.</param>
/// <param name="Column">The partition key.</param>
/// <param name="Keep">How long a row is kept, from the options.</param>
public sealed record PartitionedTable(string Name, string Column, Func<RetentionOptions, TimeSpan> Keep)
{
    /// <summary>
    /// Statements run on each new partition (<c>{partition}</c> is its qualified name): a dedupe key that must not include
    /// the partition key is a unique index per partition, since a unique index on the parent would have to.
    /// </summary>
    public string? PartitionDdl { get; init; }

    /// <summary>
    /// A predicate on rows still in progress: a partition holding one is kept until none does. <c>{low}</c> and
    /// <c>{high}</c> are the partition's bounds (for the default partition: -infinity and the cutoff), so a table whose
    /// rows go with another's can be held while the other still has rows in the same range.
    /// </summary>
    public string? HeldWhile { get; init; }

    /// <summary>
    /// Whether a due partition found free is looked at again under the drop's lock (true), so a row in progress written
    /// into it meanwhile is never dropped. Only for a <see cref="HeldWhile"/> an index answers: the second look runs while
    /// the table is locked against every writer, and a scan of a day's rows would stall them all.
    /// </summary>
    public bool RecheckUnderLock { get; init; } = true;

    public string Schema => Name[..Name.IndexOf('.')];
    public string Table => Name[(Name.IndexOf('.') + 1)..];
    public string DefaultPartition => $"{Name}_default";
}
