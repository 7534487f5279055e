namespace Automations.LaunchAgent.Runs;

/// <summary>
/// What a job's process inherits from the agent. A job runs code that any member of the team may write (a job version's
/// command), so it must not read the agent's own credentials: every variable of the agent's configuration
/// (<c>Agent__*</c>, any case) and any variable whose value holds the agent key are removed; the rest of the agent's
/// environment (PATH, the operator's own settings) stays, as a job expects.
/// </summary>
public static class JobEnvironment
{
    public static void Scrub(IDictionary<string, string?> environment, string agentKey)
    {
        foreach (var name in environment.Keys.ToList())
        {
            var value = environment[name];
            if (name.StartsWith("Agent__", StringComparison.OrdinalIgnoreCase) || name.StartsWith("Agent:", StringComparison.OrdinalIgnoreCase)
                || (agentKey.Length > 0 && value is not null && value.Contains(agentKey, StringComparison.Ordinal)))
                environment.Remove(name);
        }
    }
}
