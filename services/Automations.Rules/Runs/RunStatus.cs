namespace Automations.Rules.Runs;

public static class RunStatus
{
    public const string Pending = "Pending";
    /// <summary>Launch only: the job sits in its queue, waiting for an agent.</summary>
    public const string Enqueued = "Enqueued";
    public const string Finished = "Finished";
    public const string Failed = "Failed";
}
