namespace Automations.Rules;

/// <summary>Configuration section "Rules".</summary>
public sealed class RulesOptions
{
    /// <summary>How long a project's automations stay cached without an AutomationsChanged (a safety net for a lost one).</summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Match timeout of one alias/tag regex against one value: a pathological pattern cannot stall the consumer.</summary>
    public TimeSpan RegexTimeout { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Names this replica's AutomationsChanged endpoint; by default the machine name and a random suffix.</summary>
    public string InstanceId { get; set; } = $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..8]}";
}
