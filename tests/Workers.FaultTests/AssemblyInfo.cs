using Xunit;

// Faults are global to the machine's private node and CPU: one scenario at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
