using System.Text.Json;

namespace Automations.Persistence;

public static class Json
{
    /// <summary>camelCase, as on the wire and in the outbox.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
