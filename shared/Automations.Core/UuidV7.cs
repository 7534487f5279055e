namespace Automations.Core;

/// <summary>The time a UUIDv7 carries (RFC 9562: its first 48 bits, Unix milliseconds), for ids whose partition key it names.</summary>
public static class UuidV7
{
    /// <summary>The millisecond in <paramref name="id"/>; null when it is not a version 7 id.</summary>
    public static DateTimeOffset? TimeOf(Guid id)
    {
        if (id.Version != 7) return null;
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        long ms = 0;
        for (var i = 0; i < 6; i++) ms = (ms << 8) | bytes[i];
        return DateTimeOffset.FromUnixTimeMilliseconds(ms);
    }
}
